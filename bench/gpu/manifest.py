"""The tmix GPU manifest (runtime/cuda/GpuManifest.h) read from Python: every record
that file defines, so that bench/gpu reads whatever `tmixc build` writes."""


def _dim(text):
    """A stored dim: a literal (int), a size symbol, or `N+1` (the sequence offsets')."""
    return int(text) if text.isdigit() else text


def dim_size(dim, sizes):
    """The size of stored dim `dim` under the bound `sizes`."""
    if isinstance(dim, int):
        return dim
    symbol, _, offset = dim.partition("+")
    return sizes[symbol] + (int(offset) if offset else 0)


def shape_of(param, sizes):
    """A tensor's shape as stored (the order its data is in), under `sizes`."""
    return [dim_size(d, sizes) for d in param["dims"]]


def parse_manifest(path):
    m = {"args": [], "results": [], "schedule": {}, "specialize": {}, "sizes": [],
         "grid": [], "cubin": None, "tma": [], "workspace": None, "spec": "attention",
         "groups": [], "sequences": None, "gradients_summed": False, "object": None}
    with open(path) as f:
        lines = [l.split("#")[0].strip() for l in f]
    lines = [l for l in lines if l]
    if not lines or lines[0] != "tmix-gpu-manifest 1":
        raise ValueError(f"{path}: not a tmix GPU manifest")
    for line in lines[1:]:
        key, *words = line.split()
        if key in ("kernel", "target", "ptx", "cubin", "object", "spec"):
            m[key] = words[0]
        elif key in ("block_threads", "shared_bytes"):
            m[key] = int(words[0])
        elif key in ("schedule", "specialize"):
            m[key] = {w.split("=")[0]: int(w.split("=")[1]) for w in words}
        elif key == "sizes":
            m["sizes"] = words
        elif key == "grid":
            m["grid"] = [(_dim(w.split(":")[0]), int(w.split(":")[1])) for w in words]
        elif key == "groups":
            # G:P: a recurrence's G read in place of its parallel dim P (p / (P / G)).
            m["groups"] = [tuple(w.split(":")) for w in words]
        elif key == "sequences":
            # Packed sequences: the offsets argument [N + 1] and the time symbol.
            m["sequences"] = {"offsets": words[0], "time": words[1]}
        elif key == "gradients":
            # A recurrence's adjoint: its callers give and get each result d_<x> in
            # argument x's shape (caller_results).
            m["gradients_summed"] = words == ["summed"]
        elif key in ("arg", "result"):
            p = {"name": words[0], "tensor": words[1] == "tensor", "dtype": words[2],
                 "dims": [], "default": None, "layout": None}
            for w in words[3:]:
                if w.startswith("default="):
                    p["default"] = float(w[8:])
                elif w.startswith("layout="):
                    p["layout"] = [int(x) for x in w[7:].split(",")]
                else:
                    p["dims"].append(_dim(w))
            m["args" if key == "arg" else "results"].append(p)
        elif key == "tma":
            # sm_90a: a TMA descriptor the runtime encodes at launch (libtmix_cuda does it;
            # kept here so that a dump of the manifest shows it).
            columns, rows = words[2][len("box="):].split("x")
            swizzle = words[3][len("swizzle="):]
            m["tma"].append({"arg": words[0], "dtype": words[1], "box": (int(columns), int(rows)),
                             "swizzle": 0 if swizzle == "none" else int(swizzle)})
        elif key == "workspace":
            # Scratch per launch (words per unit of the product of the size symbols),
            # which libtmix_cuda allocates; kept here so that a dump shows it.
            m["workspace"] = {"words": int(words[0]), "per": words[1:]}
        else:
            raise ValueError(f"{path}: unknown record '{key}'")
    return m


def caller_results(m):
    """The results as a launch takes them (tmix_cuda.h): the manifest's, but for
    `gradients summed` each d_<x> in argument x's stored dims and layout, f32 ([1] for a
    scalar x), the runtime summing what several parallel points share."""
    if not m["gradients_summed"]:
        return m["results"]
    args = {a["name"]: a for a in m["args"]}
    results = []
    for r in m["results"]:
        arg = args[r["name"][len("d_"):]]
        dims, layout = (arg["dims"], arg["layout"]) if arg["tensor"] else ([1], None)
        results.append(dict(r, dims=list(dims), layout=layout, dtype="f32", tensor=True))
    return results
