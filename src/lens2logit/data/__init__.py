"""Raw datasets: loaders (``load_dataset``), embedded synthesis (``lens2logit.data.synth``) and downloads.

Importing this package is light: numpy only; readers, torch and network clients load on use.
"""

from lens2logit.data.dataset import RawDataset
from lens2logit.data.registry import load_dataset
from lens2logit.data.layout import DATASETS, INTENSITIES, intensity_folder, intensity_slug

__all__ = ["RawDataset", "load_dataset", "DATASETS", "INTENSITIES", "intensity_folder", "intensity_slug"]
