"""The tmix GPU manifest (runtime/cuda/GpuManifest.h) read from Python."""


def _dim(text):
    return int(text) if text.isdigit() else text


def parse_manifest(path):
    m = {"args": [], "results": [], "schedule": {}, "specialize": {}, "sizes": [],
         "grid": [], "cubin": None, "tma": [], "workspace": None}
    with open(path) as f:
        lines = [l.split("#")[0].strip() for l in f]
    lines = [l for l in lines if l]
    if not lines or lines[0] != "tmix-gpu-manifest 1":
        raise ValueError(f"{path}: not a tmix GPU manifest")
    for line in lines[1:]:
        key, *words = line.split()
        if key in ("kernel", "target", "ptx", "cubin"):
            m[key] = words[0]
        elif key in ("block_threads", "shared_bytes"):
            m[key] = int(words[0])
        elif key in ("schedule", "specialize"):
            m[key] = {w.split("=")[0]: int(w.split("=")[1]) for w in words}
        elif key == "sizes":
            m["sizes"] = words
        elif key == "grid":
            m["grid"] = [(_dim(w.split(":")[0]), int(w.split(":")[1])) for w in words]
        elif key in ("arg", "result"):
            p = {"name": words[0], "tensor": words[1] == "tensor", "dtype": words[2],
                 "dims": [], "default": None}
            for w in words[3:]:
                if w.startswith("default="):
                    p["default"] = float(w[8:])
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
