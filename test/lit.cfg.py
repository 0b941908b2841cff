# lit.cfg.py: the tmix lit suite. Tools resolve through PATH: the build's bin/ first
# (tmix-opt, tmixc), then LLVM's (FileCheck, not, count, split-file).
import os
import shutil
import subprocess

import lit.formats

config.name = "tmix"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".tmix", ".test"]
config.excludes = ["Inputs", "fuzz", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tmix_obj_root, "test")

llvm_tools_dir = getattr(config, "llvm_tools_dir", "") or "/usr/lib/llvm-22/bin"
path = [config.tmix_tools_dir, llvm_tools_dir, config.environment.get("PATH", os.environ.get("PATH", ""))]
config.environment["PATH"] = os.pathsep.join(path)

config.substitutions.append(("%examples", os.path.join(config.tmix_src_root, "examples")))
config.substitutions.append(("%tmix_src", config.tmix_src_root))
config.substitutions.append(("%tmix_lib", os.path.join(config.tmix_obj_root, "lib")))
c_compiler = getattr(config, "c_compiler", "") or "cc"
if getattr(config, "sanitizer", ""):
    c_compiler += " -fsanitize=" + config.sanitizer
    # Numerical sweeps whose time goes to the float64 reference's interpreter, not to
    # code a sanitizer watches differently, run in the plain build only
    # (UNSUPPORTED: sanitizer); a smaller test covers the same code paths.
    config.available_features.add("sanitizer")
config.substitutions.append(("%cc", c_compiler))
# The same compiler and sanitizer flags, apart, for CMake projects the tests build.
config.substitutions.append(("%c_compiler", getattr(config, "c_compiler", "") or "cc"))
config.substitutions.append(("%sanitizer_cflags", "-fsanitize=" + config.sanitizer
                             if getattr(config, "sanitizer", "") else ""))


def find_ptxas():
    """ptxas from the configure step, else CUDA_HOME/bin, /usr/local/cuda/bin, PATH."""
    if getattr(config, "ptxas", "") and os.path.exists(config.ptxas):
        return config.ptxas
    candidates = []
    if os.environ.get("CUDA_HOME"):
        candidates.append(os.path.join(os.environ["CUDA_HOME"], "bin", "ptxas"))
    candidates.append("/usr/local/cuda/bin/ptxas")
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("ptxas")


ptxas = find_ptxas()
if not ptxas:
    lit_config.note("ptxas not found (CUDA_HOME, /usr/local/cuda/bin, PATH): the tests "
                    "that assemble PTX (REQUIRES: ptxas) are reported UNSUPPORTED")
if ptxas:
    config.available_features.add("ptxas")
    config.environment["PATH"] = os.pathsep.join([os.path.dirname(ptxas), config.environment["PATH"]])
    for var in ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"):
        if var in os.environ:
            config.environment[var] = os.environ[var]

# GPU execution tests need a CUDA device: tmix-cuda-run --probe finds one (or says why not).
probe = os.path.join(config.tmix_tools_dir, "tmix-cuda-run")
if os.path.exists(probe):
    result = subprocess.run([probe, "--probe"], capture_output=True, text=True)
    if result.returncode == 0:
        config.available_features.add("cuda-device")
        lit_config.note("CUDA device: " + result.stdout.strip())
        # The sm_90a kernels (wgmma, setmaxnreg) run on compute capability 9.x only.
        if "(sm_9" in result.stdout:
            config.available_features.add("cuda-sm90")
    else:
        lit_config.note("GPU execution tests (REQUIRES: cuda-device) are skipped: " +
                        result.stdout.strip())

# The numpy cross-check of the end-to-end tests runs with Debian's python3 and numpy.
if subprocess.run(["/usr/bin/python3", "-c", "import numpy"], capture_output=True).returncode == 0:
    config.available_features.add("numpy")
config.substitutions.append(("%python", "/usr/bin/python3"))

# Kernels that libtmix compiles are kept on disk (codegen/cpu/DiskCache.h): here, in the
# build tree, not in the user's cache. Keys name the library's build, so a rebuilt tmix
# never reuses an older build's entries.
config.environment["TMIX_CACHE_DIR"] = os.path.join(config.tmix_obj_root, "test", "kernel-cache")

# The Python package's tests (test/python/) run pytest under the build's Python (the
# checkout's .venv/, with torch) on the package in the build tree.
python_package_dir = getattr(config, "python_package_dir", "")
python_executable = getattr(config, "python_executable", "")
if python_package_dir and os.path.isdir(os.path.join(python_package_dir, "tmix")):
    config.available_features.add("python-package")
    config.substitutions.append((
        "%pytest",
        f"env PYTHONDONTWRITEBYTECODE=1 PYTHONPATH={python_package_dir} {python_executable} -m pytest -q "
        "-p no:cacheprovider -W error::pytest.PytestUnraisableExceptionWarning"))
    config.substitutions.append(("%tmix_python", python_executable))
else:
    lit_config.note("the Python package was not built (no .venv/ with nanobind): the tests "
                    "of test/python/ (REQUIRES: python-package) are skipped")
