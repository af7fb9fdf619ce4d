"""Stage autoaugment: the SVHN policy applied to the originals -> data/autoaugment/."""
import sys
from pathlib import Path

from dcai.autoaugment import generate_augmented
from dcai.generate import run_generating_stage
from dcai.params import load_params

if __name__ == "__main__":
    sys.exit(run_generating_stage("autoaugment", generate_augmented, load_params("autoaugment"),
                                  Path("data/filtered/manifest.csv"), Path("data/autoaugment"),
                                  Path("reports/autoaugment_samples.png")))
