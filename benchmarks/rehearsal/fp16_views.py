"""float16 view storage: the metric of one rehearsal model on its validation fold, float32 views vs views
rounded to float16 (stored float16, read back as float32). Usage: python benchmarks/rehearsal/fp16_views.py DATASET VIEW
(after the rehearsal's fold-0 model of VIEW exists; docs/paper-scale.md)"""
import sys
import numpy as np
from lens2logit.training.evaluate import evaluate_model

dataset, view = sys.argv[1], sys.argv[2]
src = f"results/views/{dataset}/100/{view}.npy"
x = np.load(src, mmap_mode="r")
half = f"/tmp/rehearsal-fp16-{dataset}-{view}.npy"
rounded = x.astype(np.float16)
err = np.abs(rounded.astype(np.float32) - x)
print(f"{src}: {x.nbytes / 1e6:.0f} MB float32 → {rounded.nbytes / 1e6:.0f} MB float16; max |error| {err.max():.2e}, mean {err.mean():.2e}, range [{x.min():.3f}, {x.max():.3f}]")
np.save(half, rounded.astype(np.float32))
del rounded, err
model = f"results/models/{dataset}/none/100/{view}/fold0.pt"
targets = f"results/data/{dataset}/100/targets.npy"
for name, path in (("float32", src), ("float16", half)):
    frame = evaluate_model(model, [{"views": path, "targets": targets, "test_view": view, "test_intensity": 1.0}], batch_size=32)
    print(name, frame[["metric", "value"]].to_string(index=False).replace("\n", "; "))
