"""Prints what bench/gpu/manifest.py reads of each manifest given: its kernel, spec,
groups, packed sequences, whether its gradients are summed, and each argument's and
(as a launch takes them) each result's stored shape and layout under sizes B=2, T=70,
H=4, G=2, N=3 and the specialised head dims."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "..", "bench", "gpu"))
from manifest import caller_results, parse_manifest, shape_of  # noqa: E402


def describe(param, sizes):
    if not param["tensor"]:
        return f"{param['name']} scalar {param['dtype']}"
    layout = f" layout={param['layout']}" if param["layout"] else ""
    return f"{param['name']} {param['dtype']} {shape_of(param, sizes)}{layout}"


for path in sys.argv[1:]:
    m = parse_manifest(path)
    sizes = {"B": 2, "T": 70, "H": 4, "G": 2, "N": 3, **m["specialize"]}
    print(f"kernel {m['kernel']} spec={m['spec']} groups={m['groups']} "
          f"sequences={m['sequences']} summed={m['gradients_summed']}")
    for arg in m["args"]:
        print("  arg " + describe(arg, sizes))
    for result in caller_results(m):
        print("  result " + describe(result, sizes))
