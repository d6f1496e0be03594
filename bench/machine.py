"""The CPU a figure was measured on, as `bert-train bench` names it:
`<model name> (family F model M), N cores, <vector features>`."""
import os
import platform
from pathlib import Path

# The vector features that decide the kernels' speed, as /proc/cpuinfo spells them.
VECTOR_FEATURES = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                   "avx512_fp16", "amx_bf16", "amx_tile"]


def describe_cpu():
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown CPU"
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']} model {fields['model']})"
    flags = set(fields.get("flags", "").split())
    features = " ".join(f for f in VECTOR_FEATURES if f in flags) or "no AVX2"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name}, {cores} cores, {features}"


if __name__ == "__main__":
    print(describe_cpu())
