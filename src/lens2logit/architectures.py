"""The names :func:`lens2logit.models.build_model` accepts for option ``training.<kind>.arch``, free of
PyTorch so that the workflow checks the option while planning without importing it."""

CLASSIFICATION_ARCHS = ("resnet18", "resnet34", "resnet50", "small_cnn")
SEGMENTATION_ARCHS = ("unet", "unetplusplus", "small_unet")
DEFAULT_UNET_ENCODER = "resnet34"  # the paper's UNet++ encoder
RESNET_LAYERS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}  # BasicBlock ResNets: blocks per stage
