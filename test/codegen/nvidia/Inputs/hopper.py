"""hopper.py: runs one CTA of a tmix sm_90a gpu.func kernel (tmix-lower-attention-to-hopper,
canonicalize, cse; MLIR generic form) on the CPU, for tests without a GPU.

Each warpgroup is a coroutine (a Python generator) whose 128 threads run in lock step as
in simt.py (whose interpreter it extends); the warpgroups are scheduled separately, so the
producer and the consumers really wait on each other: a coroutine yields when an mbarrier
wait or a barrier cannot complete, TMA copies complete only when every coroutine is
blocked (as late as allowed, so that a read before the data arrives is seen; `eager`:
as soon as the issuing warpgroup yields, the other extreme), and when
nothing can move the run stops with the barriers, phases and waits of every coroutine
(a deadlock). Shared memory is bytes at shared-window addresses (the dynamic allocation
starts at `shared_base`, not 1024-aligned, so the kernel's alignment is exercised);
global tensors are bytes at device addresses, read by TMA through the tensor-map
parameters that the runtime gives cuTensorMapEncodeTiled.

Definitions used, from the PTX ISA (its mbarrier, cp.async.bulk.tensor, tensor-map
swizzle and wgmma sections) and the CUDA driver API (cuTensorMapEncodeTiled), written
here from their text, not from the kernel's helpers:

  mbarrier.init [b], n: phase 0, expected = pending = n arrivals, tx-count 0.
  fence.mbarrier_init: makes the thread's prior inits visible to the async proxy (TMA
    completes on a barrier only after it; here: the initialising warp's fence).
  mbarrier.arrive: pending -= 1 per executing thread (more than pending: an error).
  mbarrier.arrive.expect_tx [b], x: tx-count += x, then arrive.
  complete_tx (by a TMA copy): tx-count -= the copy's bytes.
  A phase completes when pending == 0 and tx-count == 0: phase += 1, pending = expected.
  try_wait.parity [b], p succeeds when the phase of parity p has completed, that is when
    the current phase's parity differs from p (a fresh barrier: parity 1 at once). MLIR's
    nvvm.mbarrier.try_wait.parity retries until success. A successful wait acquires
    what the arrivals (release) and copies of that phase made visible.
  cp.async.bulk.tensor.4d tile mode [dst], [map, {c0, c1, c2, c3}], [b]: the box
    boxDim[0..3] at coordinates c (innermost first) of the tensor, elements whose
    coordinates fall outside globalDim read as zero (OOB fill none), written to shared
    memory row by row (box-linear order, innermost fastest) from dst (128-byte aligned),
    then complete_tx on b with the box's bytes (all of them, OOB included).
  Swizzle (CU_TENSOR_MAP_SWIZZLE_128B / 64B / 32B; wgmma layout mode 1 / 2 / 3) is a
    function of the shared-memory address: bits [4, 4 + s) ^= bits [7, 7 + s), s = 3 /
    2 / 1. So 16-byte chunk c of row r of a 1024-byte-aligned 8 x 128-byte atom lands at
    chunk c ^ (r % 8); a buffer that is not 1024-aligned gets another pattern. A
    swizzled TMA destination must be 1024-aligned here, where this reading and one
    relative to the box's start agree.
  cuTensorMapEncodeTiled: globalAddress 16-byte aligned, globalStrides (bytes, dims
    1..rank-1) multiples of 16 below 2^40, boxDim in 1..256, boxDim[0] * element bytes a
    multiple of 16 and at most the swizzle span, elementStrides 1 (as used here).
  Matrix descriptor (64 bits): start address >> 4 in bits 0-13, leading byte offset >> 4
    in 16-29, stride byte offset >> 4 in 32-45, base offset in 49-51 (must be 0 here,
    and the start at an 8-row boundary of the pattern, (start >> 7) % 8 == 0: there the
    ISA's base-offset rule and the address-bit reading agree; a k step inside the
    128-byte row, start + 32 kk, is such a start), layout in 62-63 (1 = 128B swizzle;
    others are not modelled). Canonical layouts (element units, T = 8 16-bit elements =
    16 bytes), 128B swizzle, before the address swizzle:
      K-major  ((8, m), (T, 2k)) : ((8T, SBO), (1, T))
        element (row x, k) at start + (x % 8) * 128 + (x / 8) * SBO + k * 2 (k < 16)
      MN-major ((T, 8, m), (8, k)) : ((1, T, LBO), (8T, SBO))
        element (k, x) at start + (x % 64) * 2 + (x / 64) * LBO + (k % 8) * 128
                          + (k / 8) * SBO
    (LBO is not used by K-major 128B with k16 of a 16-bit type: the 32 bytes of a k
    slice lie in one 128-byte row.)
  wgmma.mma_async.sync.aligned.m64nNk16.f32.T.T d, a, b-desc, scale-d, imm-scale-a,
    imm-scale-b[, imm-trans-a], imm-trans-b: D = A B (+ D when scale-d), A 64 x 16 by
    descriptor (K-major unless trans-a) or from registers, B 16 x N (K-major, that is N
    rows of K, unless trans-b: MN-major). Warp w of the warpgroup, lane 4g + t:
      D: d[i] = D[16w + g + 8 ((i / 2) % 2)][8 (i / 4) + 2t + i % 2]
      A registers (16-bit, 4 x .b32, the lower half the first element):
        a[j] = A[16w + g + 8 (j % 2)][2t + 8 (j / 2) + {0, 1}]
    All threads of the warpgroup execute it with the same descriptors (.aligned).
    wgmma.fence before a wgmma whose registers (accumulators, A) were written by other
    instructions (chained accumulators of wgmmas excepted); the accumulators may not be
    accessed until wgmma.wait_group retires the wgmma's group (commit_group closes a
    group). Here a wgmma computes at issue, its shared-memory reads are taken to last
    until its group is retired, and any other read of its results before then is an
    error.
  fence.proxy.async: orders the thread's generic-proxy shared-memory accesses before
    later async-proxy (wgmma, TMA) accesses. A wgmma reading bytes written by st.shared
    needs the writer's fence after the write (and a barrier to the reader).
  bar.sync id, n (nvvm.barrier; gpu.barrier = bar.sync 0 of all threads): waits until n
    threads (whole warps) arrived; acquire and release among them.
  setmaxnreg: no effect here; checked to be executed by whole warpgroups.

Race detection: vector clocks per warp (12) and per TMA barrier; every shared byte
records its last writer (and whether by the generic proxy) and each agent's last read.
An access not ordered after a conflicting access of another agent (by mbarrier phases,
barriers, or program order) is a race; a read of bytes never written, an access outside
the launch's shared bytes, to an mbarrier's bytes, or before the barrier's init is
ordered before it, is an error.

Readings chosen where the text leaves room: (1) A shared::cta address is the same
address in the shared::cluster window (addrspacecast 3 -> 7 is the identity) for the
executing CTA. (2) The transaction bytes of a copy are the whole box, OOB fill
included. (3) A wgmma's shared reads may happen any time up to its retirement.

`corrupt` (tests of this emulator): 'swizzle' writes TMA boxes with the chunk XOR taken
from bits 8-10, 'sbo' reads descriptors' stride byte offset as 512, 'parity' makes
try_wait wait for the parity it is given instead of its completion, 'expect' counts one
byte fewer per copy, 'empty' lets every wait on an mbarrier of several arrivals (the
consumers' "empty") succeed at once, 'fence' drops fence.proxy.async, 'relaxed' makes
the arrivals on such an mbarrier relaxed (no release: the producer's next copy into the
stage is not ordered after the consumers' reads), 'initfence' drops fence.mbarrier_init."""
import re

import numpy as np

import simt

WG = 128
WARPS = 4
THREADS = 3 * WG
SMEM_WINDOW = 1 << 18  # the descriptor's 14-bit start field covers 18 address bits
DTYPES = {6: ("f16", 2), 7: ("f32", 4), 9: ("bf16", 2)}  # CU_TENSOR_MAP_DATA_TYPE_*
MAX_AGENTS = 32


class EmulationError(RuntimeError):
    pass


def check(cond, message):
    """Raises `message` (a string, or a function making it) unless `cond`."""
    if not cond:
        raise EmulationError(message() if callable(message) else message)


def swizzle(address, mode, corrupt=None):
    """The physical shared address of `address` under swizzle mode (bytes 0/32/64/128)."""
    bits = {0: 0, 32: 1, 64: 2, 128: 3}[mode]
    if not bits:
        return address
    shift = 8 if corrupt == "swizzle" else 7
    return address ^ (((address >> shift) & ((1 << bits) - 1)) << 4)


def to_bits(values, dtype):
    """16- or 32-bit patterns (uint32) of f32 values rounded to dtype."""
    values = np.asarray(values, np.float32)
    if dtype == "f16":
        return values.astype(np.float16).view(np.uint16).astype(np.uint32)
    if dtype == "bf16":
        return simt.round_to(values, "bf16").view(np.uint32) >> 16
    return values.view(np.uint32)


def from_bits(bits, dtype):
    bits = np.asarray(bits, np.uint32)
    if dtype == "f16":
        return bits.astype(np.uint16).view(np.float16).astype(np.float32)
    if dtype == "bf16":
        return (bits << 16).view(np.float32)
    return bits.view(np.float32)


class Mbarrier:
    def __init__(self, address, count, agent, clock):
        self.address, self.expected, self.pending = address, count, count
        self.tx, self.phase = 0, 0
        self.init_agent, self.init_clock = agent, clock
        self.fenced = False  # fence.mbarrier_init by the initialising warp since
        self.release = np.zeros(MAX_AGENTS, np.int64)  # joined by this phase's arrivals
        self.completed = {}  # phase -> vector clock made visible by its completion

    def arrive(self, count, tx, vc):
        self.tx += tx
        check(count <= self.pending, f"mbarrier at {self.address:#x}: {count} arrivals with "
              f"{self.pending} pending in phase {self.phase}")
        self.pending -= count
        np.maximum(self.release, vc, out=self.release)
        self.advance()

    def complete_tx(self, count, vc):
        self.tx -= count
        np.maximum(self.release, vc, out=self.release)
        self.advance()

    def advance(self):
        if self.pending == 0 and self.tx == 0:
            self.completed[self.phase] = self.release.copy()
            self.release[:] = 0
            self.phase += 1
            self.pending = self.expected

    def describe(self):
        return (f"mbarrier {self.address:#x}: phase {self.phase} (parity {self.phase % 2}), "
                f"{self.pending}/{self.expected} arrivals pending, tx-count {self.tx}")


class Token:
    """A committed (or open) group of wgmmas; `retired` once wait_group retires it."""

    def __init__(self):
        self.retired, self.reads = False, []


class Cta:
    """One CTA: shared memory, mbarriers, named barriers, TMA, and the scheduler of its
    three warpgroups."""

    def __init__(self, kernel, args, block_id, shared_bytes, maps, memory,
                 shared_base=0x410, corrupt=None, eager=False):
        self.kernel, self.block_id, self.shared_bytes = kernel, block_id, shared_bytes
        self.maps, self.memory, self.corrupt = maps, memory, corrupt
        self.eager = eager  # copies complete at once rather than as late as possible
        self.base = shared_base
        check(self.base % 16 == 0 and self.base + shared_bytes <= SMEM_WINDOW,
              "dynamic shared memory outside the shared window")
        self.smem = np.zeros(SMEM_WINDOW, np.uint8)
        self.written = np.zeros(SMEM_WINDOW, bool)
        self.wr_agent = np.full(SMEM_WINDOW, -1, np.int16)
        self.wr_clock = np.zeros(SMEM_WINDOW, np.int64)
        self.wr_generic = np.zeros(SMEM_WINDOW, bool)
        self.rd_clock = np.zeros((MAX_AGENTS, SMEM_WINDOW), np.int64)
        self.barrier_bytes = np.zeros(SMEM_WINDOW, bool)
        self.vc = np.zeros((MAX_AGENTS, MAX_AGENTS), np.int64)  # vc[agent] = its clock
        for agent in range(MAX_AGENTS):
            self.vc[agent, agent] = 1
        self.fence_clock = np.zeros(MAX_AGENTS, np.int64)  # last fence.proxy.async
        self.tma_agents = {}  # mbarrier address -> agent
        self.mbarriers = {}
        self.bars = {}  # named barrier id -> [arrived threads, agents, generation]
        self.in_flight = []
        self.args = args
        self.groups = [Warpgroup(self, w) for w in range(3)]

    # ---- shared memory ----
    def shared_range(self, addresses, what):
        addresses = np.asarray(addresses, np.int64)
        bad = (addresses < self.base) | (addresses >= self.base + self.shared_bytes)
        check(not bad.any(), lambda: f"{what} outside the launch's shared bytes "
              f"[{self.base:#x}, {self.base + self.shared_bytes:#x}): "
              f"{int(addresses[bad][0]):#x}")
        check(not self.barrier_bytes[addresses].any(), f"{what} touches an mbarrier's bytes")
        return addresses

    def access(self, addresses, agent, vc, write, generic, what):
        """Race checks and records for bytes `addresses` accessed by `agent`."""
        addresses = self.shared_range(addresses, what)
        wa = self.wr_agent[addresses].astype(np.int64)
        other = (wa >= 0) & (wa != agent)
        late = other & (self.wr_clock[addresses] > vc[np.maximum(wa, 0)])
        check(not late.any(), lambda: f"race: {what} at {int(addresses[late][0]):#x} is not "
              "ordered "
              f"after its write by {self.agent_name(int(wa[late][0]))}")
        if write:
            for b in range(MAX_AGENTS):
                if b != agent:
                    bad = self.rd_clock[b, addresses] > vc[b]
                    check(not bad.any(), lambda: f"race: {what} at "
                          f"{int(addresses[bad][0]):#x} is not "
                          f"ordered after its read by {self.agent_name(b)}")
            self.wr_agent[addresses] = agent
            self.wr_clock[addresses] = vc[agent]
            self.wr_generic[addresses] = generic
            self.rd_clock[:, addresses] = 0
            self.written[addresses] = True
        else:
            check(self.written[addresses].all(), lambda: f"{what}: reads shared bytes nothing "
                  "wrote "
                  f"({int(addresses[~self.written[addresses]][0]):#x})")
            if not generic:  # the async proxy reads st.shared data: fenced by its writer?
                gw = self.wr_generic[addresses] & (wa >= 0)
                unfenced = gw & (self.fence_clock[np.maximum(wa, 0)] < self.wr_clock[addresses])
                check(not unfenced.any(), lambda: f"{what} at "
                      f"{int(addresses[unfenced][0]):#x} reads "
                      f"st.shared data without a fence.proxy.async of its writer")
            self.rd_clock[agent, addresses] = np.maximum(self.rd_clock[agent, addresses],
                                                         vc[agent])

    def agent_name(self, agent):
        if agent < 3 * WARPS:
            return f"warp {agent} (warpgroup {agent // WARPS})"
        for address, a in self.tma_agents.items():
            if a == agent:
                return f"a TMA copy completing on the mbarrier at {address:#x}"
        return f"agent {agent}"

    def load_bytes(self, addresses):
        return self.smem[addresses]

    # ---- mbarriers ----
    def mbarrier(self, address, agent):
        b = self.mbarriers.get(int(address))
        check(b is not None, f"mbarrier at {int(address):#x} used before its init")
        check(self.vc[agent][b.init_agent] >= b.init_clock,
              f"mbarrier at {int(address):#x}: used by {self.agent_name(agent)} without its "
              "init ordered before (fence and barrier)")
        return b

    def tma_agent(self, address):
        if address not in self.tma_agents:
            self.tma_agents[address] = 3 * WARPS + len(self.tma_agents)
            check(self.tma_agents[address] < MAX_AGENTS, "too many mbarriers")
        return self.tma_agents[address]

    # ---- TMA ----
    def issue_copy(self, destination, map_address, coordinates, barrier, agent):
        maps_base = int(self.args[-1][0])
        offset = int(map_address) - maps_base
        check(offset % 128 == 0 and 0 <= offset // 128 < len(self.maps),
              f"cp.async.bulk.tensor: {map_address:#x} is not one of the launch's tensor maps")
        tensor_map = self.maps[offset // 128]
        check(destination % 128 == 0, f"cp.async.bulk.tensor: destination {destination:#x} "
              "is not 128-byte aligned")
        # A swizzled box at a 1024-byte boundary: where the pattern taken from address
        # bits and one taken from the box's start agree.
        check(tensor_map["swizzle"] == 0 or destination % 1024 == 0,
              f"cp.async.bulk.tensor: swizzled destination {destination:#x} is not "
              "1024-byte aligned")
        check(self.mbarrier(barrier, agent).fenced, f"cp.async.bulk.tensor completes on the "
              f"mbarrier at {barrier:#x}, whose init no fence.mbarrier_init made visible to "
              "the async proxy")
        self.in_flight.append((destination, tensor_map, coordinates, barrier,
                               self.vc[agent].copy()))

    def complete_copy(self):
        destination, m, coordinates, barrier, vc = self.in_flight.pop(0)
        dtype, size = DTYPES[m["dataType"]]
        dims, strides, box = m["globalDims"], [size] + list(m["globalStrides"]), m["boxDims"]
        rank = m["rank"]
        check(list(m["elementStrides"]) == [1] * rank and m["interleave"] == 0
              and m["oobFill"] == 0,
              "tensor map: element strides, interleave or OOB fill not modelled")
        memory = self.memory[m["globalAddress"]]
        grids = np.meshgrid(*[np.arange(box[d]) for d in reversed(range(rank))], indexing="ij")
        offs = [g.ravel() for g in reversed(grids)]  # innermost first, box-linear order
        inside = np.ones(len(offs[0]), bool)
        byte = np.zeros(len(offs[0]), np.int64)
        for d in range(rank):
            c = coordinates[d] + offs[d]
            inside &= (c >= 0) & (c < dims[d])
            byte += np.where(inside, c, 0) * strides[d]
        element = np.zeros((len(byte), size), np.uint8)
        idx = byte[inside][:, None] + np.arange(size)
        check((idx < len(memory)).all(), "TMA read past the tensor")
        element[inside] = memory[idx]
        linear = destination + np.arange(len(byte) * size).reshape(-1, size)
        physical = swizzle(linear, {0: 0, 1: 32, 2: 64, 3: 128}[m["swizzle"]], self.corrupt)
        agent = self.tma_agent(barrier)
        clock = vc.copy()
        clock[agent] = self.vc[agent, agent]
        self.vc[agent, agent] += 1
        self.access(physical.ravel(), agent, clock, True, False, "cp.async.bulk.tensor")
        self.smem[physical.ravel()] = element.ravel()
        count = len(byte) * size - (1 if self.corrupt == "expect" else 0)
        self.mbarriers[barrier].complete_tx(count, clock)

    # ---- scheduling ----
    def run(self):
        runners = [g.start() for g in self.groups]
        waits = [None] * 3
        done = [False] * 3
        while not all(done):
            progressed = False
            for i, runner in enumerate(runners):
                if done[i] or (waits[i] is not None and not waits[i][0]()):
                    continue
                try:
                    waits[i] = next(runner)
                except StopIteration:
                    done[i] = True
                progressed = True
                while self.eager and self.in_flight:
                    self.complete_copy()
            if not progressed:
                if self.in_flight:
                    self.complete_copy()
                    continue
                lines = [f"warpgroup {i}: {waits[i][1]()}" for i in range(3) if not done[i]]
                lines += [b.describe() for b in self.mbarriers.values()]
                raise EmulationError("deadlock: every warpgroup waits\n  " + "\n  ".join(lines))
        check(not self.in_flight, "TMA copies still in flight at exit")
        for b in self.mbarriers.values():
            check(b.pending == b.expected and b.tx == 0,
                  "at exit, a phase is half done: " + b.describe())


ASM_LINE = re.compile(r"^wgmma\.mma_async\.sync\.aligned\.m64n(\d+)k16\.f32\.(\w+)\.(\w+)\s+"
                      r"\{([^}]*)\},\s*(.*);$")
PASSTHROUGH = ("llvm.extractvalue", "vector.from_elements", "vector.extract")


class Warpgroup(simt.Cta):
    """The 128 threads of warpgroup `index` in lock step (simt.Cta's interpreter) as a
    coroutine of the CTA's scheduler."""

    def __init__(self, cta, index):
        self.cta, self.index = cta, index
        super().__init__(cta.kernel, cta.args, cta.block_id, cta.shared_bytes)
        self.counter = 0
        self.defined = {}
        self.fence_at = -1
        self.pending = {}  # SSA name -> Token of the wgmma group it comes from
        self.open = None  # Token of the wgmmas since the last commit_group
        self.committed = []

    def start(self):
        return self.run_ops(self.kernel.regions[0][1], np.ones(WG, bool))

    def warp_agents(self, mask):
        return [self.index * WARPS + w for w in range(WARPS) if mask[w * 32:(w + 1) * 32].any()]

    def release(self, agents):
        vc = np.zeros(MAX_AGENTS, np.int64)
        for a in agents:
            np.maximum(vc, self.cta.vc[a], out=vc)
        for a in agents:
            self.cta.vc[a, a] += 1
        return vc

    def acquire(self, agents, vc):
        for a in agents:
            np.maximum(self.cta.vc[a], vc, out=self.cta.vc[a])

    # ---- the coroutine interpreter ----
    def run_ops(self, ops, mask):
        for op in ops:
            self.check_pending(op)
            if op.name == "scf.yield":
                return [self.get(o) for o in op.operands]
            if op.name == "scf.if":
                out = yield from self.run_if(op, mask)
            elif op.name == "scf.for":
                out = yield from self.run_for(op, mask)
            elif op.name == "nvvm.mbarrier.try_wait.parity":
                out = yield from self.wait_parity(op, mask)
            elif op.name in ("gpu.barrier", "nvvm.barrier"):
                out = yield from self.bar_sync(op, mask)
            else:
                out = self.step(op, mask)
            self.counter += 1
            if out is None:
                continue
            if not isinstance(out, list):
                out = [out]
            # Data movement between SSA values (no PTX instruction of its own) keeps the
            # definition point of its sources: what the wgmma.fence check looks at.
            at = self.counter
            if op.name in PASSTHROUGH + ("llvm.bitcast",):
                at = max(self.defined.get(o, -1) for o in op.operands)
            for name, value in zip(op.results, out):
                self.env[name] = value
                self.defined[name] = at
        return []

    def check_pending(self, op):
        tokens = [self.pending[o] for o in op.operands
                  if o in self.pending and not self.pending[o].retired]
        if not tokens:
            return
        if op.name in PASSTHROUGH:
            for r in op.results:
                self.pending[r] = tokens[0]
            return
        if op.name == "llvm.inline_asm":
            return  # wgmma_asm checks that they are its accumulators
        raise EmulationError(f"{op.name} reads a wgmma accumulator before "
                             "wgmma.wait_group retired it")

    def run_if(self, op, mask):
        cond = self.get(op.operands[0])
        outs = []
        for region, taken in zip(op.regions, (mask & cond, mask & ~cond)):
            outs.append((yield from self.run_ops(region[1], taken)) if taken.any() else None)
        if not op.results:
            return None
        values = []
        for i in range(len(op.results)):
            then_value = outs[0][i] if outs[0] is not None else None
            else_value = outs[1][i] if len(outs) > 1 and outs[1] is not None else None
            ref = then_value if then_value is not None else else_value
            then_value = ref if then_value is None else then_value
            else_value = ref if else_value is None else else_value
            c = cond.reshape(cond.shape + (1,) * (np.ndim(ref) - 1))
            values.append(np.where(c, then_value, else_value))
        return values

    def run_for(self, op, mask):
        x = [self.get(o) for o in op.operands]
        lb, ub, step, inits = x[0], x[1], x[2], x[3:]
        args, body = op.regions[0]
        iv, carried = lb.copy(), [v.copy() for v in inits]
        while True:
            active = mask & (iv < ub)
            if not active.any():
                break
            self.env[args[0]] = iv
            for name, value in zip(args[1:], carried):
                self.env[name] = value
            new = yield from self.run_ops(body, active)
            for i, value in enumerate(new):
                c = active.reshape(active.shape + (1,) * (value.ndim - 1))
                carried[i] = np.where(c, value, carried[i])
            iv = np.where(active, iv + step, iv)
        return carried

    def uniform(self, value, mask, what):
        v = value[mask]
        check((v == v[0]).all(), f"{what}: not uniform over the active threads")
        return int(v[0])

    def wait_parity(self, op, mask):
        address = self.uniform(self.get(op.operands[0]), mask, "try_wait address")
        parity = self.uniform(self.get(op.operands[1]), mask, "try_wait parity")
        agents = self.warp_agents(mask)
        b = self.cta.mbarrier(address, agents[0])

        bypass = self.cta.corrupt == "empty" and b.expected > 1  # the producer does not wait

        def ready():
            if bypass:
                return True
            if self.cta.corrupt == "parity":
                return b.phase % 2 == parity
            return b.phase % 2 != parity

        if not ready():
            yield (ready, lambda: f"try_wait.parity {parity} on the {b.describe()}")
        if self.cta.corrupt != "parity" and not bypass:
            # phase -1 (a fresh barrier's "preceding" phase) made nothing visible
            self.acquire(agents, b.completed.get(b.phase - 1, np.zeros(MAX_AGENTS, np.int64)))
        return None

    def bar_sync(self, op, mask):
        if op.name == "gpu.barrier":
            bar_id, count = 0, THREADS
        else:
            bar_id = self.uniform(self.get(op.operands[0]), mask, "bar.sync id")
            count = self.uniform(self.get(op.operands[1]), mask, "bar.sync count")
        for w in range(WARPS):
            lanes = mask[w * 32:(w + 1) * 32]
            check(lanes.all() or not lanes.any(), "bar.sync in a divergent warp")
        agents = self.warp_agents(mask)
        state = self.cta.bars.setdefault(bar_id, {"threads": 0,
                                                  "vc": np.zeros(MAX_AGENTS, np.int64),
                                                  "generation": 0, "done": {}})
        generation = state["generation"]
        state["threads"] += 32 * len(agents)
        np.maximum(state["vc"], self.release(agents), out=state["vc"])
        check(state["threads"] <= count, f"bar.sync {bar_id}, {count}: too many threads")
        if state["threads"] == count:
            state["done"][generation] = state["vc"].copy()
            state["generation"] += 1
            state["threads"] = 0
            state["vc"][:] = 0
        done = lambda: generation in state["done"]
        if not done():
            yield (done, lambda: f"bar.sync {bar_id}, {count} ({state['threads']} arrived)")
        self.acquire(agents, state["done"][generation])
        return None

    # ---- one op ----
    def step(self, op, mask):
        n = op.name
        p = op.props
        cta = self.cta
        if n == "gpu.thread_id":
            return self.index * WG + np.arange(WG, dtype=np.int64)
        if n == "gpu.dynamic_shared_memory":
            return np.full(WG, cta.base, np.int64)
        if n == "memref.extract_aligned_pointer_as_index":
            return self.get(op.operands[0])
        if n in ("llvm.inttoptr", "llvm.addrspacecast"):
            return self.get(op.operands[0])
        if n in ("arith.shrui", "arith.shli", "arith.maxsi", "arith.minsi", "arith.floordivsi",
                 "arith.divsi", "arith.remsi"):
            f = {"arith.shrui": np.right_shift, "arith.shli": np.left_shift,
                 "arith.maxsi": np.maximum, "arith.minsi": np.minimum,
                 "arith.floordivsi": np.floor_divide,
                 "arith.divsi": lambda a, b: np.trunc(a / b).astype(np.int64),
                 "arith.remsi": np.fmod}[n]
            return f(self.get(op.operands[0]), self.get(op.operands[1]))
        if n == "math.rsqrt":
            with np.errstate(all="ignore"):
                return (1 / np.sqrt(self.get(op.operands[0]))).astype(np.float32)
        if n == "llvm.mlir.undef":
            return np.full(WG, np.nan, np.float32)
        if n == "llvm.getelementptr":
            check("elem_type = i8" in p and len(op.operands) == 1, "getelementptr: not i8 const")
            offset = int(re.search(r"rawConstantIndices = array<i32: (-?\d+)>", p).group(1))
            return self.get(op.operands[0]) + offset
        if n == "nvvm.mbarrier.init":
            addresses, counts = self.get(op.operands[0]), self.get(op.operands[1])
            for lane in np.nonzero(mask)[0]:
                a = int(addresses[lane])
                check(a % 8 == 0, "mbarrier not 8-byte aligned")
                cta.shared_range(np.arange(a, a + 8), "mbarrier.init")
                agent = self.index * WARPS + lane // 32
                cta.mbarriers[a] = Mbarrier(a, int(counts[lane]), agent, cta.vc[agent, agent])
                cta.barrier_bytes[a:a + 8] = True
            return None
        if n == "nvvm.fence.mbarrier.init":
            for b in [] if cta.corrupt == "initfence" else cta.mbarriers.values():
                if b.init_agent in self.warp_agents(mask):
                    b.fenced = True
            return None
        if n == "nvvm.setmaxregister":
            check(mask.all(), "setmaxnreg not executed by the whole warpgroup")
            count = int(re.search(r"regCount = (\d+)", p).group(1))
            check(24 <= count <= 256 and count % 8 == 0, f"setmaxnreg {count}")
            return None
        if n in ("nvvm.mbarrier.arrive", "nvvm.mbarrier.arrive.expect_tx"):
            address = self.uniform(self.get(op.operands[0]), mask, "mbarrier.arrive")
            tx = 0
            if len(op.operands) > 1:
                tx = self.uniform(self.get(op.operands[1]), mask, "expect_tx")
            agents = self.warp_agents(mask)
            b = cta.mbarrier(address, agents[0])
            vc = self.release(agents)
            if cta.corrupt == "relaxed" and b.expected > 1:
                vc = np.zeros(MAX_AGENTS, np.int64)  # "empty" arrivals without release
            b.arrive(int(mask.sum()), tx * int(mask.sum()), vc)
            return None
        if n == "nvvm.cp.async.bulk.tensor.shared.cluster.global":
            sizes = [int(v) for v in re.search(r"operandSegmentSizes = array<i32: ([^>]*)>",
                                               p).group(1).split(",")]
            check(sizes[0] == 1 and sizes[1] == 1 and sizes[3] == 1 and not any(sizes[4:]),
                  "cp.async.bulk.tensor: only the tile form without multicast is modelled")
            check("tma_load_mode<tile>" in p, "cp.async.bulk.tensor: not tile mode")
            x = [self.get(o) for o in op.operands]
            for lane in np.nonzero(mask)[0]:
                coordinates = [int(np.int32(c[lane])) for c in x[2:2 + sizes[2]]]
                cta.issue_copy(int(x[0][lane]), int(x[1][lane]), coordinates,
                               int(x[2 + sizes[2]][lane]), self.index * WARPS + lane // 32)
            return None
        if n == "llvm.load":
            t = simt.result_type(op)
            size = {"f16": 2, "bf16": 2, "f32": 4}[t]
            addresses = self.get(op.operands[0])
            check((addresses[mask] % size == 0).all(), "ld.shared misaligned")
            out = np.zeros(WG, np.float32)
            for w in range(WARPS):
                lanes = np.nonzero(mask[w * 32:(w + 1) * 32])[0] + w * 32
                if not len(lanes):
                    continue
                idx = addresses[lanes][:, None] + np.arange(size)
                cta.access(idx.ravel(), self.index * WARPS + w, cta.vc[self.index * WARPS + w],
                           False, True, "ld.shared")
                raw = cta.smem[idx].astype(np.uint32)
                bits = sum(raw[:, k] << (8 * k) for k in range(size))
                out[lanes] = from_bits(bits, t)
            return out
        if n == "llvm.store":
            value, addresses = self.get(op.operands[0]), self.get(op.operands[1])
            t = re.search(r"\((\w+), !llvm.ptr", op.signature).group(1)
            size = {"f16": 2, "bf16": 2, "f32": 4}[t]
            check((addresses[mask] % size == 0).all(), "st.shared misaligned")
            for w in range(WARPS):
                lanes = np.nonzero(mask[w * 32:(w + 1) * 32])[0] + w * 32
                if not len(lanes):
                    continue
                idx = addresses[lanes][:, None] + np.arange(size)
                agent = self.index * WARPS + w
                cta.access(idx.ravel(), agent, cta.vc[agent], True, True, "st.shared")
                bits = to_bits(value[lanes], t)
                for k in range(size):
                    cta.smem[idx[:, k]] = (bits >> (8 * k)) & 0xFF
            return None
        if n == "nvvm.fence.proxy":
            if cta.corrupt == "fence":
                return None
            check("async_shared" in p or "kind = #nvvm.proxy_kind<async.shared>" in p,
                  "fence.proxy: only async.shared is modelled")
            for a in self.warp_agents(mask):
                cta.fence_clock[a] = cta.vc[a, a]
                cta.vc[a, a] += 1
            return None
        if n == "llvm.bitcast":
            src = re.search(r"\(vector<2x(\w+)>\) -> i32", op.signature)
            check(src is not None, "llvm.bitcast: only vector<2 x 16-bit> -> i32")
            pair = self.get(op.operands[0])
            bits = to_bits(pair, src.group(1))
            return (bits[:, 0] | (bits[:, 1] << 16)).astype(np.uint32)
        if n == "nvvm.wgmma.fence.aligned":
            check(mask.all(), "wgmma.fence not executed by the whole warpgroup")
            self.fence_at = self.counter
            return None
        if n == "nvvm.wgmma.commit.group.sync.aligned":
            check(mask.all(), "wgmma.commit_group not executed by the whole warpgroup")
            if self.open is not None:
                self.committed.append(self.open)
                self.open = None
            return None
        if n == "nvvm.wgmma.wait.group.sync.aligned":
            check(mask.all(), "wgmma.wait_group not executed by the whole warpgroup")
            keep = int(re.search(r"group = (\d+)", p).group(1))
            while len(self.committed) > keep:
                token = self.committed.pop(0)
                token.retired = True
                for addresses in token.reads:  # the reads last until now
                    for w in range(WARPS):
                        agent = self.index * WARPS + w
                        cta.access(addresses, agent, cta.vc[agent], False, False, "wgmma")
            return None
        if n == "llvm.inline_asm":
            return self.inline_asm(op, mask)
        if n == "gpu.return":
            check(self.open is None and not self.committed,
                  "kernel exit with wgmmas not waited for")
            return None
        return self.exec_op(op, mask)

    # ---- inline PTX: the wgmma templates ----
    def inline_asm(self, op, mask):
        text = re.search(r'asm_string = "((?:[^"\\]|\\.)*)"', op.props).group(1)
        text = text.replace("\\0A", "\n").replace("\\09", "\t")
        constraints = re.search(r'constraints = "([^"]*)"', op.props).group(1).split(",")
        outputs = [c for c in constraints if c.startswith("=")]
        inputs = [c for c in constraints if not c.startswith("=")]
        check(all(c == "=f" for c in outputs), f"inline asm outputs {outputs}")
        check(len(inputs) == len(op.operands), "inline asm: operands and constraints differ")
        operands = {}  # $k -> (name, value)
        for i, name in enumerate(op.operands):
            operands[len(outputs) + i] = (name, self.get(name))
        ties = {int(c): len(outputs) + i for i, c in enumerate(inputs) if c.isdigit()}
        predicates, results = {}, None
        for line in [l.strip() for l in text.split("\n") if l.strip()]:
            if line in ("{", "}"):
                continue
            m = re.match(r"^\.reg \.pred (\w+);$", line)
            if m:
                predicates[m.group(1)] = None
                continue
            m = re.match(r"^setp\.ne\.b32 (\w+), \$(\d+), 0;$", line)
            if m and m.group(1) in predicates:
                predicates[m.group(1)] = operands[int(m.group(2))][1] != 0
                continue
            m = ASM_LINE.match(line)
            check(m is not None and results is None, f"inline asm: unknown instruction '{line}'")
            results = self.wgmma(m, operands, ties, predicates, len(outputs), mask)
        check(results is not None, "inline asm without a wgmma")
        for name in op.results:
            self.pending[name] = self.open
        return results

    def wgmma(self, m, operands, ties, predicates, outputs, mask):
        cta = self.cta
        check(mask.all(), "wgmma not executed by the whole warpgroup")
        n, ta, tb = int(m.group(1)), m.group(2), m.group(3)
        check(ta == tb and ta in ("f16", "bf16"), f"wgmma types {ta}.{tb}")
        check(n % 8 == 0 and 8 <= n <= 256, f"wgmma n{n}")
        d_list = [s.strip() for s in m.group(4).split(",")]
        check(d_list == [f"${i}" for i in range(n // 2)] and outputs == n // 2,
              "wgmma: accumulator registers are not the asm outputs in order")
        rest = [s.strip() for s in re.split(r",(?![^{]*\})", m.group(5))]
        registers = rest[0].startswith("{")

        def value(token):
            if token.startswith("$"):
                return operands[int(token[1:])]
            return (None, np.full(WG, int(token)))

        if registers:
            a_regs = [value(t.strip()) for t in rest[0].strip("{}").split(",")]
            check(len(a_regs) == 4, "wgmma: A from registers needs 4 registers")
            b_desc, scale_d, imm = value(rest[1]), rest[2], rest[3:]
            check(len(imm) == 3, "wgmma (A in registers): scale-a, scale-b, trans-b")
            trans_a, (scale_a, scale_b, trans_b) = 0, [int(v) for v in imm]
        else:
            a_desc, b_desc, scale_d, imm = value(rest[0]), value(rest[1]), rest[2], rest[3:]
            check(len(imm) == 4, "wgmma (A by descriptor): scale-a, scale-b, trans-a, trans-b")
            scale_a, scale_b, trans_a, trans_b = [int(v) for v in imm]
        check(scale_a in (1, -1) and scale_b in (1, -1) and trans_a in (0, 1) and trans_b in (0, 1),
              "wgmma immediates")
        check(scale_d in predicates and predicates[scale_d] is not None, "wgmma scale-d predicate")
        accumulate = predicates[scale_d]
        check((accumulate == accumulate[0]).all(), "wgmma scale-d not uniform")
        accumulate = bool(accumulate[0])

        # Registers feeding the wgmma: written before the last wgmma.fence, or chained
        # accumulators of a previous wgmma.
        feeding = [operands[ties[i]][0] for i in range(n // 2)] if accumulate else []
        if registers:
            feeding += [name for name, _ in a_regs]
        for name in feeding:
            if name in self.pending and not self.pending[name].retired:
                continue
            check(self.defined.get(name, -1) < self.fence_at,
                  f"wgmma reads {name}, written after the last wgmma.fence")

        reads = []
        if registers:
            A = np.zeros((64, 16), np.float64)
            lane = np.arange(WG)
            w, g, t = lane // 32, (lane % 32) // 4, lane % 4
            for j in range(4):
                word = a_regs[j][1].astype(np.uint32)
                for h in range(2):
                    A[16 * w + g + 8 * (j % 2), 2 * t + 8 * (j // 2) + h] = \
                        from_bits((word >> (16 * h)) & 0xFFFF, ta)
        else:
            A, addresses = self.matrix(a_desc[1], 64, 16, trans_a, ta)
            reads.append(addresses)
        Bt, addresses = self.matrix(b_desc[1], n, 16, trans_b, ta)  # N x K
        reads.append(addresses)
        D = (scale_a * A) @ (scale_b * Bt).T
        lane = np.arange(WG)
        w, g, t = lane // 32, (lane % 32) // 4, lane % 4
        results = []
        for i in range(n // 2):
            row = 16 * w + g + 8 * ((i // 2) % 2)
            col = 8 * (i // 4) + 2 * t + i % 2
            d = D[row, col]
            if accumulate:
                d = d + operands[ties[i]][1].astype(np.float64)
            results.append(d.astype(np.float32))
        if self.open is None:
            self.open = Token()
        self.open.reads += reads
        # The shared reads start now: check them against earlier writes at issue too.
        for addresses in reads:
            for wp in range(WARPS):
                agent = self.index * WARPS + wp
                cta.access(addresses, agent, cta.vc[agent], False, False, "wgmma")
        return [np.stack(results, axis=1)]

    def matrix(self, desc, rows, k, mn_major, dtype):
        """rows x k (k = 16) of the operand a descriptor describes, and its byte addresses;
        `rows` is M for A and N for B."""
        desc = desc.astype(np.uint64)
        check((desc == desc[0]).all(), "wgmma descriptor differs across the warpgroup")
        d = int(desc[0])
        start = (d & 0x3FFF) << 4
        lbo = ((d >> 16) & 0x3FFF) << 4
        sbo = ((d >> 32) & 0x3FFF) << 4
        if self.cta.corrupt == "sbo":
            sbo = 512
        base_offset = (d >> 49) & 7
        layout = (d >> 62) & 3
        reserved = d & ((0x3 << 14) | (0x3 << 30) | (0x7 << 46) | (0x3FF << 52))
        check(reserved == 0, f"descriptor {d:#x}: reserved bits set")
        check(layout == 1, f"descriptor {d:#x}: layout {layout} (only 128B swizzle modelled)")
        check(base_offset == 0, f"descriptor {d:#x}: base offset {base_offset} not modelled")
        # The ISA asks for a base offset when the start is not at a pattern repeat
        # boundary; accept only starts where that and the address-bit reading agree.
        check((start >> 7) & 7 == 0, f"descriptor {d:#x}: start {start:#x} is not at an "
              "8-row boundary of the swizzle pattern (a base offset would be needed)")
        x = np.arange(rows)[:, None]
        kk = np.arange(k)[None, :]
        if mn_major:
            address = start + (x % 64) * 2 + (x // 64) * lbo + (kk % 8) * 128 + (kk // 8) * sbo
        else:
            address = start + (x % 8) * 128 + (x // 8) * sbo + kk * 2
        physical = swizzle(address, 128)
        byte = physical[..., None] + np.arange(2)
        self.cta.shared_range(byte.ravel(), "wgmma operand")
        raw = self.cta.smem[byte].astype(np.uint32)
        values = from_bits(raw[..., 0] | (raw[..., 1] << 8), dtype).astype(np.float64)
        return values, byte.ravel()


def check_tensor_map(m, memory):
    """What cuTensorMapEncodeTiled requires of its arguments `m` (see the docstring), and
    that the tensor lies in `memory` (address -> bytes)."""
    check(m["dataType"] in DTYPES, f"tensor map: data type {m['dataType']} not modelled")
    size = DTYPES[m["dataType"]][1]
    rank = m["rank"]
    check(rank == len(m["globalDims"]) == len(m["boxDims"]) == len(m["globalStrides"]) + 1,
          "tensor map: rank")
    check(m["globalAddress"] % 16 == 0, "tensor map: address not 16-byte aligned")
    check(m["globalAddress"] in memory, "tensor map: the address is not a tensor's")
    check(all(1 <= d <= 1 << 32 for d in m["globalDims"]), "tensor map: dims")
    check(all(s % 16 == 0 and s < 1 << 40 for s in m["globalStrides"]),
          f"tensor map: strides {m['globalStrides']}")
    check(all(1 <= b <= 256 for b in m["boxDims"]), "tensor map: box dims in 1..256")
    check(m["boxDims"][0] * size % 16 == 0, "tensor map: inner box bytes not a multiple of 16")
    span = {0: None, 1: 32, 2: 64, 3: 128}[m["swizzle"]]
    if span:
        check(m["boxDims"][0] * size <= span, "tensor map: inner box wider than the swizzle")
    extent = size * (m["globalDims"][0] - 1) + sum(
        s * (d - 1) for s, d in zip(m["globalStrides"], m["globalDims"][1:])) + size
    check(extent <= len(memory[m["globalAddress"]]), "tensor map: past the tensor's bytes")


DATA_TYPES = {"f16": 6, "f32": 7, "bf16": 9}
