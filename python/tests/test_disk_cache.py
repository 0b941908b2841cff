"""The disk cache across processes: a second process loads what the first compiled, a
damaged entry is rebuilt, and a folder others may write (or that is not the user's own)
is refused. Each process runs in a fresh interpreter with its own TMIX_CACHE_DIR."""

import os
import subprocess
import sys

# A child process: compiles, runs and checks a kernel, prints the cache's counters.
CHILD = r"""
import json, sys
import numpy as np
import tmix
mod = tmix.compile('''
attention causal(q: f32[B, H, N, 16], k: f32[B, H, N, 16], v: f32[B, H, N, 16])
    -> o: f32[B, H, N, 16] {
  mask = j <= i
}
''')
try:
    kernel = mod["causal"]
except RuntimeError as error:
    print(json.dumps({"error": str(error)}))
    sys.exit(0)
rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((1, 2, 23, 16)).astype(np.float32) for _ in range(3))
o = kernel(q, k, v)
s = np.einsum("bhid,bhjd->bhij", q.astype(np.float64), k) / 4.0
s[:, :, np.triu_indices(23, 1)[0], np.triu_indices(23, 1)[1]] = -np.inf
p = np.exp(s - s.max(-1, keepdims=True))
ref = (p / p.sum(-1, keepdims=True)) @ v
print(json.dumps(dict(tmix.cache_info(), err=float(np.abs(o - ref).max()))))
"""


def run_child(cache_dir):
    env = dict(os.environ, TMIX_CACHE_DIR=str(cache_dir), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                         text=True, check=True).stdout
    import json
    return json.loads(out.strip().splitlines()[-1])


def test_second_process_hits_and_damaged_entry_is_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    first = run_child(cache)
    assert first["compiled"] == 1 and first["disk_stores"] == 1 and first["disk_hits"] == 0
    assert first["err"] < 1e-5
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    (entry,) = cache.iterdir()

    second = run_child(cache)
    assert second["compiled"] == 0 and second["disk_hits"] == 1
    assert second["err"] < 1e-5

    data = bytearray(entry.read_bytes())
    data[-100] ^= 0xFF  # a flipped byte in the object: the hash no longer matches
    entry.write_bytes(bytes(data))
    third = run_child(cache)
    assert third["disk_damaged"] == 1 and third["compiled"] == 1 and third["disk_stores"] == 1
    assert third["err"] < 1e-5
    fourth = run_child(cache)
    assert fourth["disk_hits"] == 1 and fourth["compiled"] == 0

    entry.write_bytes(b"tmix-cpu-kernel 1\nkey nonsense\n")  # a truncated header
    fifth = run_child(cache)
    assert fifth["disk_damaged"] == 1 and fifth["compiled"] == 1


def test_a_folder_others_may_write_is_refused(tmp_path):
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)
    result = run_child(cache)
    assert "writable by others (mode 0777)" in result["error"]
    assert not any(cache.iterdir())


def test_a_link_is_refused(tmp_path):
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert "is not a directory" in run_child(tmp_path / "link")["error"]


def test_a_folder_of_another_user_is_refused(tmp_path):
    if os.geteuid() == 0:
        cache = tmp_path / "theirs"
        cache.mkdir(mode=0o700)
        os.chown(cache, 65534, 65534)
        owner = 65534
    else:
        cache, owner = "/", 0  # root's, and not writable by others
    assert f"belongs to user {owner}" in run_child(cache)["error"]
