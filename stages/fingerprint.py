"""Stage fingerprint: digests of ingest.sources and train_score.test_sets (always runs)."""
import sys

from dcai.atomic import write_json
from dcai.fingerprint import folder_digest
from dcai.ingest import parse_sources
from dcai.params import load_params


def main() -> int:
    try:
        sources = parse_sources(load_params("ingest")["sources"])
        write_json("data/fingerprints/sources.json", {s.name: folder_digest(s.root) for s in sources})
        test_sets = load_params("train_score")["test_sets"] or {}
        write_json("data/fingerprints/test_sets.json",
                   {name: folder_digest(path) for name, path in test_sets.items()})
    except (ValueError, FileNotFoundError) as err:
        print(f"fingerprint: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
