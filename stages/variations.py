"""Stage variations: one hand's sheet-to-sheet variation drawn from the originals -> data/variations/."""
import sys
from pathlib import Path

from dcai.generate import run_generating_stage
from dcai.params import load_params
from dcai.variations import generate_variations

if __name__ == "__main__":
    sys.exit(run_generating_stage("variations", generate_variations, load_params("variations"),
                                  Path("data/filtered/manifest.csv"), Path("data/variations"),
                                  Path("reports/variations_samples.png")))
