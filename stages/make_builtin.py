"""Stage make_builtin: the seeded synthetic handwriting set -> data/builtin/{pool,test}/."""
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.params import load_params
from dcai.synth import make_dataset

OUT = Path("data/builtin")


def main() -> None:
    p = load_params("make_builtin")
    with atomic_dir(OUT) as tmp:
        pool = make_dataset(tmp / "pool", p["pool_per_class"], p["pool_seed"], p["writers"])
        test = make_dataset(tmp / "test", p["test_per_class"], p["test_seed"], p["writers"])
    write_json("metrics/make_builtin.json", {"pool": len(pool), "test": len(test)})
    print(f"make_builtin: {len(pool)} pool and {len(test)} test images in {OUT}")


if __name__ == "__main__":
    main()
