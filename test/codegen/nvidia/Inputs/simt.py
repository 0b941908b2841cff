"""simt.py: runs one CTA of a tmix gpu.func kernel on the CPU, for tests without a GPU.

Input: the kernel module in MLIR's generic form, as tmix-opt prints it after a
tmix-lower-*-to-nvgpu pass (plus canonicalize and cse), before the NVVM lowering. The
CTA's threads run in lock step, each SSA value a numpy array over the threads: scf.if
runs both sides under masks and selects, scf.for iterates until no thread is active,
memory ops touch the active threads only. Warp-wide ops follow the PTX ISA's
definitions, written here from the ISA text (not from the compiler's helpers):

  ldmatrix.x4 (.trans): lanes 8m..8m+7 give the row addresses of matrix m; lane 4g + t
    receives M_m[g][2t..2t+1] (.trans: M_m[2t..2t+1][g]) in register m.
  mma.m16n8k16 (row.col, f32 accumulators): a0..a7 = A[g][2t+i], A[g+8][2t+i],
    A[g][2t+8+i], A[g+8][2t+8+i]; b0..b3 = B[2t+i][g], B[2t+8+i][g]; c0..c3 = C[g][2t+i],
    C[g+8][2t+i] (i in {0, 1}).

  cp.async (nvgpu.device_async_copy): in flight from its issue until a wait retires it.
    cp.async.commit_group (nvgpu.device_async_create_group) closes all of the thread's
    uncommitted copies into one group, whatever tokens it names, and opens a group even
    when there are none; cp.async.wait_group N (nvgpu.device_async_wait, numGroups N)
    retires all but the thread's newest N groups, and only then do their bytes land.

bf16 and f16 values are f32 arrays rounded to the type; shared-memory views are
separate arrays, checked not to overlap and to fit the launch's shared bytes. Lock step
would hide a missing barrier, so every shared-memory element records, per barrier
interval, its writer and readers: a read of another thread's write, or a write over
another thread's read or write, in the same interval is a race. Lock step would also
hide a missing or late wait, so any access to the destination of a cp.async in flight
is an error, and the copy counts as a write both when issued (over reads earlier in the
interval) and when retired (another thread reads it only after a barrier that follows
the wait). An out-of-bounds access, a race, an access to a copy in flight, a barrier
under divergence or a warp-wide op in a divergent warp is an error.

`corrupt` (tests of this emulator): 'nowait' makes cp.async.wait_group retire nothing,
'waitone' makes it leave one group more in flight than it says."""
import re

import numpy as np

THREADS = 128
WARP = 32
# A lane's group g and thread t in its group: lane = 4 g + t (the fragment layouts).
LANE_G = np.arange(WARP) // 4
LANE_T = np.arange(WARP) % 4


class EmulationError(RuntimeError):
    """A fault of the kernel that the emulator found: a race, a copy read in flight."""


class Op:
    def __init__(self, results, name, operands, props, signature):
        self.results, self.name, self.operands = results, name, operands
        self.props, self.signature, self.regions = props, signature, []


LINE = re.compile(r'^(?:(%[\w]+)(?::(\d+))? = )?"([\w.]+)"\(([^)]*)\)(.*)$')


def parse(text):
    """The ops of the generic-form module text, nested by regions."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    pos = 0

    def parse_block():
        nonlocal pos
        args, ops = [], []
        if lines[pos].startswith("^"):
            args = re.findall(r"(%[\w]+):", lines[pos])
            pos += 1
        while pos < len(lines) and not lines[pos].startswith("}"):
            ops.append(parse_op())
        return args, ops

    def parse_op():
        nonlocal pos
        m = LINE.match(lines[pos])
        assert m, "cannot parse: " + lines[pos]
        name, count = m.group(1), m.group(2)
        results = [] if not name else (
            [f"{name}#{i}" for i in range(int(count))] if count else [name])
        operands = [o.strip() for o in m.group(4).split(",") if o.strip()]
        rest = m.group(5)
        op = Op(results, m.group(3), operands, rest, rest)
        pos += 1
        if rest.endswith("({"):
            while True:
                op.regions.append(parse_block())
                closing = lines[pos]
                pos += 1
                if closing.startswith("}, {"):
                    continue
                op.signature = closing
                break
        return op

    return parse_block()[1]


def round_to(x, type_name):
    x = np.asarray(x, dtype=np.float32)
    if type_name == "bf16":
        bits = x.view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.astype(np.uint32).view(np.float32)
    if type_name == "f16":
        return x.astype(np.float16).astype(np.float32)
    return x


def result_type(op):
    return op.signature.rsplit("->", 1)[-1].strip().strip("()")


def memref_shape(type_text):
    m = re.search(r"memref<([\dx]+)x(\w+)", type_text)
    return [int(d) for d in m.group(1).split("x")], m.group(2)


def unsigned(compare):
    """`compare` of 64-bit integers as unsigned (a negative value is above 2^63)."""
    return lambda a, b: compare(np.asarray(a, np.int64).view(np.uint64),
                                np.asarray(b, np.int64).view(np.uint64))


CMPI = {0: np.equal, 1: np.not_equal, 2: np.less, 3: np.less_equal, 4: np.greater,
        5: np.greater_equal, 6: unsigned(np.less), 7: unsigned(np.less_equal),
        8: unsigned(np.greater), 9: unsigned(np.greater_equal)}
# arith.cmpf predicates by number; une (13, numpy's not_equal: true for NaN) keeps a
# NaN row max "kept" in the online softmax, so that NaN propagates.
CMPF = {1: np.equal, 2: np.greater, 3: np.greater_equal, 4: np.less, 5: np.less_equal,
        6: np.not_equal, 13: np.not_equal,
        14: lambda a, b: np.isnan(a) | np.isnan(b)}  # uno: the frontend's int() of NaN


class Accesses:
    """Who wrote and who read each element of a shared view in the current interval
    between barriers (thread -2: several readers)."""

    def __init__(self, shape, over=None, at=0):
        # A view over words of the CTA's f32 shared memory (`over`: their Accesses,
        # from word `at`) shares their records, so that views aliasing one buffer
        # (a later phase reusing it) see each other's accesses.
        def records():
            if over is None:
                return [np.full(shape, -1) for _ in range(5)]
            count = int(np.prod(shape))
            return [getattr(over, name)[at:at + count].reshape(shape)
                    for name in ("write_interval", "writer", "read_interval", "reader",
                                 "in_flight")]
        (self.write_interval, self.writer, self.read_interval, self.reader,
         self.in_flight) = records()  # in_flight: the thread whose cp.async writes it
        self.flying = 0  # elements in flight: no check while there are none

    def record(self, flat, threads, interval, write):
        # `threads` are distinct (one access per active thread), so an element that
        # `flat` names twice is accessed by two threads: scattering the thread ids and
        # reading them back finds those elements without sorting.
        if ((self.write_interval.flat[flat] == interval) &
                (self.writer.flat[flat] != threads)).any():
            raise EmulationError("race: another thread wrote this element since the last barrier")
        if write:
            if ((self.read_interval.flat[flat] == interval) &
                    (self.reader.flat[flat] != threads)).any():
                raise EmulationError("race: another thread read this element since the last barrier")
            self.writer.flat[flat] = threads
            if (self.writer.flat[flat] != threads).any():
                raise EmulationError("race: two threads write one element")
            self.write_interval.flat[flat] = interval
            return
        # The element's reader before this access: itself when none read it in this
        # interval; -2 (several) stays -2.
        previous = np.where(self.read_interval.flat[flat] == interval,
                            self.reader.flat[flat], threads)
        self.reader.flat[flat] = threads
        several = (self.reader.flat[flat] != threads) | (previous != threads)
        self.reader.flat[flat[several]] = -2
        self.read_interval.flat[flat] = interval


class Cta:
    def __init__(self, kernel, args, block_id, shared_bytes, corrupt=None, blocks=1):
        self.kernel, self.block_id, self.shared_bytes = kernel, block_id, shared_bytes
        self.blocks = blocks
        assert corrupt in (None, "nowait", "waitone"), f"no such fault: {corrupt}"
        self.corrupt = corrupt
        self.views = []  # (begin, end) bytes of the views other than f32 words
        self.word_views, self.words, self.word_accesses = [], None, None
        self.accesses = {}  # id(shared view) -> Accesses
        self.interval = 0
        self.env = dict(zip(kernel.regions[0][0], args))
        # Per thread: its cp.async copies not yet committed, and its committed groups,
        # oldest first; a copy is (view, indices, bytes to land).
        self.uncommitted = [[] for _ in range(THREADS)]
        self.groups = [[] for _ in range(THREADS)]

    def run(self):
        self.exec_ops(self.kernel.regions[0][1], np.ones(THREADS, bool))

    def get(self, name):
        return self.env[name]

    def exec_ops(self, ops, mask):
        for op in ops:
            out = self.exec_op(op, mask)
            if op.name == "scf.yield":
                return out
            if out is None:
                continue
            if not isinstance(out, list):
                out = [out]
            for name, value in zip(op.results, out):
                self.env[name] = value
        return []

    def exec_op(self, op, mask):
        n = op.name
        x = [self.get(o) for o in op.operands]
        p = op.props
        if n == "arith.constant":
            m = re.search(r"value = (dense<([^>]*)>|[^ :}]+)", p)
            t = result_type(op)
            if m.group(2) is not None:
                shape = [int(d) for d in re.search(r"vector<([\dx]+)x", t).group(1).split("x")]
                return np.full([THREADS] + shape, float(m.group(2)), np.float32)
            text = m.group(1)
            if text in ("true", "false"):
                return np.full(THREADS, text == "true")
            if t in ("index", "i64", "i32", "i1"):
                return np.full(THREADS, int(text), np.int64)
            dtype = np.float64 if t == "f64" else np.float32
            if text.startswith("0x"):  # a float by its bits (inf, nan)
                bits = np.array([int(text, 16)], np.uint64 if t == "f64" else np.uint32)
                return np.full(THREADS, bits.view(dtype)[0], dtype)
            return np.full(THREADS, float(text), dtype)
        if n in ("arith.addi", "arith.subi", "arith.muli", "arith.minui", "arith.maxui",
                 "arith.minsi", "arith.maxsi", "arith.andi", "arith.ori", "arith.xori"):
            f = {"arith.addi": np.add, "arith.subi": np.subtract, "arith.muli": np.multiply,
                 "arith.minui": np.minimum, "arith.maxui": np.maximum,
                 "arith.minsi": np.minimum, "arith.maxsi": np.maximum,
                 "arith.andi": np.logical_and if x[0].dtype == bool else np.bitwise_and,
                 "arith.ori": np.logical_or if x[0].dtype == bool else np.bitwise_or,
                 "arith.xori": np.logical_xor if x[0].dtype == bool else np.bitwise_xor}[n]
            return f(x[0], x[1])
        if n in ("arith.divui", "arith.remui", "arith.ceildivui"):
            d = np.where(x[1] == 0, 1, x[1])
            if n == "arith.divui":
                return x[0] // d
            if n == "arith.remui":
                return x[0] % d
            return -(-x[0] // d)
        if n in ("arith.floordivsi", "arith.ceildivsi", "arith.divsi", "arith.remsi"):
            # Signed (the spec's i64 index arithmetic: chunked masks' i / chunk; the
            # rows of a tile that hold an element's terms).
            d = np.where(x[1] == 0, 1, x[1])
            if n == "arith.floordivsi":
                return np.floor_divide(x[0], d)
            if n == "arith.ceildivsi":
                return -np.floor_divide(-x[0], d)
            quotient = np.trunc(x[0] / d).astype(np.int64)  # rounds toward zero
            return quotient if n == "arith.divsi" else x[0] - quotient * d
        if n in ("arith.trunci", "arith.extsi", "arith.extui"):
            return x[0].astype(np.int64)
        if n == "arith.bitcast":
            t = result_type(op)
            if t in ("i32", "f32"):
                # An f32 kept in the low half of an i64 word (its high half 0): the
                # recurrence backward's workspace.
                if t == "i32":
                    return np.asarray(x[0], np.float32).view(np.uint32).astype(np.int64)
                return np.asarray(x[0], np.int64).astype(np.uint32).view(np.float32)
            assert t in ("i64", "f64"), "only 32- and 64-bit bitcasts are emulated"
            return np.asarray(x[0], np.int64 if t == "f64" else np.float64).view(
                np.float64 if t == "f64" else np.int64)
        if n == "arith.index_cast":
            return x[0].astype(np.int64)
        if n == "arith.cmpi":
            return CMPI[int(re.search(r"predicate = (\d+)", p).group(1))](x[0], x[1])
        if n == "arith.cmpf":
            return CMPF[int(re.search(r"predicate = (\d+)", p).group(1))](x[0], x[1])
        if n == "arith.select":
            c = x[0].reshape(x[0].shape + (1,) * (x[1].ndim - x[0].ndim))
            return np.where(c, x[1], x[2])
        if n in ("arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.maxnumf",
                 "arith.maximumf", "arith.minnumf", "arith.minimumf"):
            f = {"arith.addf": np.add, "arith.subf": np.subtract, "arith.mulf": np.multiply,
                 "arith.divf": np.divide, "arith.maxnumf": np.fmax,
                 "arith.maximumf": np.maximum, "arith.minnumf": np.fmin,
                 "arith.minimumf": np.minimum}[n]
            with np.errstate(all="ignore"):
                return f(x[0], x[1])
        if n == "arith.negf":
            return -x[0]
        if n == "arith.extf":
            return x[0].astype(np.float64 if result_type(op) == "f64" else np.float32)
        if n == "arith.truncf":
            t = result_type(op)
            t = re.sub(r"vector<[\dx]+x(\w+)>", r"\1", t)
            return round_to(x[0].astype(np.float32), t)
        if n in ("arith.uitofp", "arith.sitofp"):
            return x[0].astype(np.float32)
        if n == "arith.fptosi":  # the frontend's int() keeps the operand in range
            return np.trunc(x[0]).astype(np.int64)
        if n.startswith("math."):
            f = {"math.exp": np.exp, "math.log": np.log, "math.absf": np.abs,
                 "math.absi": np.abs,
                 "math.exp2": np.exp2, "math.log2": np.log2, "math.sqrt": np.sqrt,
                 "math.tanh": np.tanh, "math.cos": np.cos, "math.sin": np.sin,
                 "math.log1p": np.log1p, "math.expm1": np.expm1,
                 "math.rsqrt": lambda v: 1.0 / np.sqrt(v)}[n]
            with np.errstate(all="ignore"):
                return f(x[0])
        if n == "nvvm.inline_ptx":
            code = re.search(r'ptxCode = "([^"]*)"', p).group(1)
            with np.errstate(all="ignore"):
                if code.startswith("ex2.approx"):
                    return np.exp2(x[0])
                if code.startswith("lg2.approx"):
                    return np.log2(x[0])
            raise NotImplementedError(code)
        if n == "gpu.thread_id":
            return np.arange(THREADS, dtype=np.int64)
        if n == "gpu.block_id":
            return np.full(THREADS, self.block_id, np.int64)
        if n == "gpu.grid_dim":
            return np.full(THREADS, self.blocks, np.int64)
        if n == "nvvm.memory.barrier":
            # One CTA runs at a time and each sees every earlier one's writes: the
            # order the fences give on a GPU is this emulator's order.
            return None
        if n == "memref.atomic_rmw":
            # Integer add (arith::AtomicRMWKind::addi = 1) on global memory: each active
            # thread in turn, in thread order, gets the old value.
            assert re.search(r"kind = 1 :", p), "only atomic addi is emulated"
            array, old = x[1], np.zeros(THREADS, x[1].dtype)
            idx = self.indices(array, x[2:], mask)
            for position, thread in enumerate(np.nonzero(mask)[0]):
                at = tuple(i[position] for i in idx)
                old[thread] = array[at]
                array[at] += x[0][thread]
            return old
        if n == "gpu.barrier":
            assert mask.all(), "barrier under divergence"
            self.interval += 1
            return None
        if n == "gpu.dynamic_shared_memory":
            return "shared"
        if n == "memref.view":
            shape, element = memref_shape(result_type(op))
            offset = int(x[1][0])
            assert (x[1] == offset).all()
            size = int(np.prod(shape)) * (2 if element in ("bf16", "f16") else
                                          8 if element in ("f64", "i64") else 4)
            assert offset + size <= self.shared_bytes, "view past the shared bytes"
            if element == "f32" and offset % 4 == 0:
                # f32 views are windows of one array of the shared words: views that
                # alias (a buffer reused by a later phase) share their elements.
                if self.words is None:
                    self.words = np.zeros(self.shared_bytes // 4, np.float32)
                    self.word_accesses = Accesses((self.shared_bytes // 4,))
                at = offset // 4
                view = self.words[at:at + size // 4].reshape(shape)
                self.accesses[id(view)] = Accesses(shape, self.word_accesses, at)
                self.word_views.append((offset, offset + size))
                for begin, end in self.views:
                    assert offset >= end or offset + size <= begin, "overlapping views"
                return view
            for begin, end in self.views + self.word_views:
                assert offset >= end or offset + size <= begin, "overlapping views"
            self.views.append((offset, offset + size))
            view = np.zeros(shape, {"f64": np.float64, "i64": np.int64}.get(element,
                                                                            np.float32))
            self.accesses[id(view)] = Accesses(shape)
            return view
        if n == "memref.load":
            return self.load(x[0], x[1:], mask)
        if n == "memref.dim":
            dim = int(x[1][0])
            assert (x[1] == dim).all()
            return np.full(THREADS, x[0].shape[dim], np.int64)
        if n == "memref.store":
            idx = self.indices(x[1], x[2:], mask)
            self.record(x[1], idx, np.nonzero(mask)[0], write=True)
            x[1][idx] = np.broadcast_to(x[0], mask.shape)[mask]
            return None
        if n == "vector.from_elements":
            shape = [int(d) for d in re.search(r"vector<([\dx]+)x", result_type(op)).group(1).split("x")]
            return np.stack(x, axis=1).reshape([THREADS] + shape)
        if n == "vector.extract":
            pos = [int(v) for v in re.search(r"static_position = array<i64: ([^>]*)>", p).group(1).split(",")]
            return x[0][(slice(None),) + tuple(pos)]
        if n == "vector.shuffle":
            sel = [int(v) for v in re.search(r"mask = array<i64: ([^>]*)>", p).group(1).split(",")]
            return np.concatenate([x[0], x[1]], axis=1)[:, sel]
        if n == "llvm.bitcast":
            return x[0]  # a pair of 16-bit values as one .b32 register: kept as the pair
        if n == "llvm.extractvalue":
            return x[0][:, int(re.search(r"position = array<i64: (\d+)>", p).group(1))]
        if n == "nvgpu.ldmatrix":
            return self.ldmatrix(x[0], x[1:], "transpose = true" in p, mask)
        if n == "nvvm.mma.sync":
            a = np.stack(x[0:4], axis=1)
            b = np.stack(x[4:6], axis=1)
            c = np.stack(x[6:10], axis=1).reshape(THREADS, 2, 2)
            return self.mma(a, b, c, mask).reshape(THREADS, 4)
        if n == "nvgpu.mma.sync":
            return self.mma(x[0], x[1], x[2], mask)
        if n == "vector.to_elements":
            flat = x[0].reshape(THREADS, -1)
            return [flat[:, i] for i in range(flat.shape[1])]
        if n == "gpu.shuffle":
            assert "shuffle_mode xor" in p and (x[2] == WARP).all()
            lanes = np.arange(THREADS)
            source = (lanes // WARP) * WARP + ((lanes % WARP) ^ x[1])
            for _ in self.warps(mask):
                pass  # warp-wide: every lane of an active warp takes part
            return [x[0][source], np.ones(THREADS, bool)]
        if n == "nvgpu.device_async_copy":
            # In flight until retired: dst[dst_idx][0:n] = src[src_idx][0:src_n], zeros after.
            sizes = [int(v) for v in re.search(r"operandSegmentSizes = array<i32: ([^>]*)>", p).group(1).split(",")]
            count = int(re.search(r"dstElements = (\d+)", p).group(1))
            dst, dst_idx = x[0], x[1:1 + sizes[1]]
            src = x[1 + sizes[1]]
            src_idx = x[2 + sizes[1]:2 + sizes[1] + sizes[3]]
            src_count = x[-1] if sizes[4] else np.full(THREADS, count)
            lanes = np.nonzero(mask)[0]
            if not len(lanes):
                return np.zeros(THREADS)
            # Per active lane: its `count` destination elements [lane, element] and the
            # row it copies (zeros past its source count).
            k = src_count[lanes].astype(np.int64)
            first = src_idx[-1][lanes].astype(np.int64)
            assert (first + k <= src.shape[-1]).all(), "cp.async source row past the tensor"
            offsets = np.arange(count)
            copied = offsets < k[:, None]
            source = tuple(np.broadcast_to(i[lanes][:, None], (len(lanes), count))
                           for i in src_idx[:-1]) + \
                (np.where(copied, first[:, None] + offsets, first[:, None]),)
            rows = np.where(copied, src[source], 0).astype(np.float32)
            idx = tuple(np.broadcast_to(i[lanes][:, None], (len(lanes), count))
                        for i in dst_idx[:-1]) + (dst_idx[-1][lanes][:, None] + offsets,)
            flat_idx = tuple(i.ravel() for i in idx)
            self.record(dst, flat_idx, np.repeat(lanes, count), write=True)
            self.accesses[id(dst)].in_flight[flat_idx] = np.repeat(lanes, count)
            self.accesses[id(dst)].flying += count * len(lanes)
            for n_, lane in enumerate(lanes):
                self.uncommitted[lane].append((dst, tuple(i[n_] for i in idx), rows[n_]))
            return np.zeros(THREADS)
        if n == "nvgpu.device_async_create_group":
            for lane in np.nonzero(mask)[0]:
                self.groups[lane].append(self.uncommitted[lane])
                self.uncommitted[lane] = []
            return np.zeros(THREADS)
        if n == "nvgpu.device_async_wait":
            m = re.search(r"numGroups = (\d+)", p)
            keep = int(m.group(1)) if m else 0
            if self.corrupt == "nowait":
                return None
            if self.corrupt == "waitone":
                keep += 1
            landed = {}  # per destination: its (idx, row, lane) retired now
            for lane in np.nonzero(mask)[0]:
                while len(self.groups[lane]) > keep:
                    for dst, idx, row in self.groups[lane].pop(0):
                        landed.setdefault(id(dst), (dst, []))[1].append((idx, row, lane))
            for dst, copies in landed.values():
                idx = tuple(np.concatenate([c[0][axis] for c in copies])
                            for axis in range(dst.ndim))
                rows = np.concatenate([c[1] for c in copies])
                lanes = np.concatenate([np.full(len(c[1]), c[2]) for c in copies])
                self.accesses[id(dst)].in_flight[idx] = -1
                self.accesses[id(dst)].flying -= len(rows)
                # Landed now: other threads read it after the next barrier.
                self.record(dst, idx, lanes, write=True)
                dst[idx] = rows
            return None
        if n == "scf.yield":
            return x
        if n == "scf.if":
            cond = x[0]
            outs = []
            for region, taken in zip(op.regions, (mask & cond, mask & ~cond)):
                if taken.any():
                    outs.append(self.exec_ops(region[1], taken))
                else:
                    outs.append(None)
            if not op.results:
                return None
            values = []
            for i in range(len(op.results)):
                then_value = outs[0][i] if outs[0] is not None else None
                else_value = outs[1][i] if len(outs) > 1 and outs[1] is not None else None
                ref = then_value if then_value is not None else else_value
                then_value = ref if then_value is None else then_value
                else_value = ref if else_value is None else else_value
                c = cond.reshape(cond.shape + (1,) * (ref.ndim - 1))
                values.append(np.where(c, then_value, else_value))
            return values
        if n == "scf.for":
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
                new = self.exec_ops(body, active)
                for i, value in enumerate(new):
                    c = active.reshape(active.shape + (1,) * (value.ndim - 1))
                    carried[i] = np.where(c, value, carried[i])
                iv = np.where(active, iv + step, iv)
            return carried
        if n in ("gpu.return",):
            return None
        raise NotImplementedError(n)

    def indices(self, array, idx, mask):
        out = []
        for axis, i in enumerate(idx):
            i = np.broadcast_to(i, mask.shape)[mask]
            if ((i < 0) | (i >= array.shape[axis])).any():
                raise IndexError(f"index out of bounds on axis {axis} of {array.shape}")
            out.append(i)
        return tuple(out)

    def load(self, array, idx, mask):
        result = np.zeros(THREADS, array.dtype)
        idx = self.indices(array, idx, mask)
        self.record(array, idx, np.nonzero(mask)[0], write=False)
        result[mask] = array[idx]
        return result

    def record(self, array, idx, threads, write):
        accesses = self.accesses.get(id(array))
        if accesses is not None and len(threads):
            flat = np.ravel_multi_index(idx, array.shape)
            if accesses.flying:
                copier = accesses.in_flight.flat[flat]
                if (copier >= 0).any():
                    raise EmulationError(
                        f"{'writes' if write else 'reads'} shared memory that a cp.async "
                        f"of thread {copier[copier >= 0][0]} writes, before that thread's "
                        "cp.async.wait_group retired it")
            accesses.record(flat, threads, self.interval, write)

    def warps(self, mask):
        for w in range(THREADS // WARP):
            lanes = slice(w * WARP, (w + 1) * WARP)
            if mask[lanes].any():
                assert mask[lanes].all(), "warp-wide op in a divergent warp"
                yield lanes

    def ldmatrix(self, array, indices, transpose, mask):
        """Row addresses array[lead..., row, col .. col + 7], one per lane: lanes 8m ..
        8m + 7 give the rows of 8 x 8 matrix m; lane 4g + t receives its (g, 2t .. 2t + 1)
        (of the transpose with .trans)."""
        out = np.zeros((THREADS, 4, 2), np.float32)
        for lanes in self.warps(mask):
            lead = [i[lanes] for i in indices[:-2]]
            r, c = indices[-2][lanes], indices[-1][lanes]
            assert (c + 8 <= array.shape[-1]).all(), "ldmatrix row past the buffer"
            # Every lane's 8 elements, read by that lane: [lane, column].
            columns = c[:, None] + np.arange(8)
            idx = tuple(np.broadcast_to(i[:, None], (WARP, 8)) for i in lead + [r]) + (columns,)
            self.record(array, tuple(i.ravel() for i in idx),
                        np.repeat(lanes.start + np.arange(WARP), 8), write=False)
            tiles = array[idx].reshape(4, 8, 8)  # [m, row, column]
            if transpose:
                tiles = tiles.transpose(0, 2, 1)
            out[lanes] = tiles[:, LANE_G[:, None], 2 * LANE_T[:, None] + np.arange(2)] \
                .transpose(1, 0, 2)
        return out

    def mma(self, a, b, c, mask):
        """m16n8k16, the PTX ISA's fragment layouts (lane 4g + t), products in float64."""
        d = np.zeros((THREADS, 2, 2), np.float32)
        g, t = LANE_G, LANE_T
        for lanes in self.warps(mask):
            A = np.zeros((16, 16), np.float64)
            B = np.zeros((16, 8), np.float64)
            C = np.zeros((16, 8), np.float64)
            aw, bw, cw = a[lanes], b[lanes], c[lanes]
            for i in range(2):
                A[g, 2 * t + i] = aw[:, 0, i]
                A[g + 8, 2 * t + i] = aw[:, 1, i]
                A[g, 2 * t + 8 + i] = aw[:, 2, i]
                A[g + 8, 2 * t + 8 + i] = aw[:, 3, i]
                B[2 * t + i, g] = bw[:, 0, i]
                B[2 * t + 8 + i, g] = bw[:, 1, i]
                C[g, 2 * t + i] = cw[:, 0, i]
                C[g + 8, 2 * t + i] = cw[:, 1, i]
            D = A @ B + C
            for i in range(2):
                d[lanes, 0, i] = D[g, 2 * t + i]
                d[lanes, 1, i] = D[g + 8, 2 * t + i]
        return d


def find_kernel(ops, name):
    for op in ops:
        if op.name == "gpu.func" and f'sym_name = "{name}"' in op.signature:
            return op
        for region in op.regions:
            found = find_kernel(region[1], name)
            if found:
                return found
    return None
