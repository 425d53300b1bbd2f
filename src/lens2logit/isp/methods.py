"""Names of the static ISP's interchangeable steps (reference-spec §1.1), in the paper's order: the
axes of the twelve views. PyTorch-free, so that the workflow plans without importing it; the step
modules (:mod:`.demosaic`, :mod:`.filters`) dispatch on these names."""

DEMOSAIC_METHODS = ("bilinear", "malvar2004", "menon2007")
# The linear demosaicers: fixed filters with a learnable form (``weight=``), the differentiable ISP's.
LINEAR_DEMOSAIC_METHODS = ("bilinear", "malvar2004")
SHARPEN_METHODS = ("sharpening_filter", "unsharp_masking")
DENOISE_METHODS = ("median_denoising", "gaussian_denoising")
