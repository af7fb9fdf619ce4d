import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import DCAI2021, needs_dcai2021, numeral_image
from dcai.ingest import (SkipImage, find_candidates, ignored_folders, image_id, ingest_sources,
                         normalize_image, parse_sources)
from dcai.manifest import COLUMNS, read_manifest, write_manifest

LIMITS = dict(max_pixels=10_000_000, max_side=1024)


def png_bytes(image: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", **kw)
    return buf.getvalue()


def run_ingest(tmp_path, roots, **limits):
    images = tmp_path / "out" / "images"
    images.mkdir(parents=True)
    sources = parse_sources([str(r) for r in roots])
    return ingest_sources(sources, images, path_prefix="data/ingested/images", **{**LIMITS, **limits})


def test_bad_files_are_skipped_each_with_its_reason(tmp_path, make_class_tree):
    root = make_class_tree(per_class=2)
    (root / "i" / "empty.png").write_bytes(b"")
    (root / "i" / "notes.txt").write_text("not an image")
    good = png_bytes(numeral_image())
    (root / "ii" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "ii" / "corrupt.png").write_bytes(good[:60] + bytes(range(256)) * 2 + good[572:])
    (root / "ii" / "bad_header.png").write_bytes(good[:16] + bytes(30) + good[46:])
    (root / "iii" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "xi").mkdir()
    numeral_image().save(root / "xi" / "odd.png")
    numeral_image().save(root / "stray.png")

    rows, skipped = run_ingest(tmp_path, [root])

    reasons = {s["original_path"].split("/src/")[1]: s["reason"] for s in skipped}
    assert reasons["i/empty.png"].startswith("empty file")
    assert reasons["i/notes.txt"].startswith("not an image")
    assert reasons["ii/truncated.png"].startswith("corrupt or truncated")
    assert reasons["ii/corrupt.png"].startswith("corrupt or truncated")
    assert reasons["ii/bad_header.png"].startswith(("not an image", "unreadable image header"))
    assert reasons["iii/.DS_Store"] == "hidden or system file"
    assert reasons["xi/odd.png"].startswith("unknown class folder 'xi'")
    assert reasons["stray.png"] == "not inside a class folder"
    assert len(skipped) == 8
    assert len(rows) == 6  # every good file kept, none dropped silently


def test_class_folders_are_case_insensitive_and_train_val_layout_is_one_pool(tmp_path):
    root = tmp_path / "comp"
    for split, folder in (("train", "IV"), ("val", "iv"), ("Train", "X")):
        (root / split / folder).mkdir(parents=True, exist_ok=True)
    numeral_image().save(root / "train" / "IV" / "a.png")
    numeral_image(strokes=3).save(root / "val" / "iv" / "b.png")
    (root / "label_book" / "i").mkdir(parents=True)
    numeral_image().save(root / "label_book" / "i" / "c.png")

    rows, skipped = run_ingest(tmp_path, [root])

    assert sorted((r["label"], r["original_split"]) for r in rows) == [("iv", "train"), ("iv", "val")]
    assert skipped == []
    assert ignored_folders(parse_sources([str(root)])[0]) == {"comp/label_book": 1}


def test_manifest_rows_trace_each_image_to_its_source(tmp_path, make_class_tree):
    root = make_class_tree(per_class=1, classes=("v",))
    rows, _ = run_ingest(tmp_path, [root])
    (row,) = rows
    assert row["id"] == row["origin_id"] == image_id("src", "v/v_0.png")
    assert row["original_path"].endswith("src/v/v_0.png")
    assert (row["source"], row["label"], row["kind"], row["original_split"]) == ("src", "v", "original", "")
    assert row["path"] == f"data/ingested/images/{row['id']}.png"
    assert (row["width"], row["height"]) == (60, 50)
    stored = Image.open(tmp_path / "out" / "images" / f"{row['id']}.png")
    assert stored.mode == "L" and stored.format == "PNG"
    write_manifest(tmp_path / "m.csv", rows)
    assert read_manifest(tmp_path / "m.csv") == [{**{c: "" for c in COLUMNS}, **row}]


def test_ingest_is_deterministic_and_leaves_sources_untouched(tmp_path, make_class_tree):
    root = make_class_tree()
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    rows_a, _ = run_ingest(tmp_path / "a", [root])
    rows_b, _ = run_ingest(tmp_path / "b", [root])
    assert rows_a == rows_b
    for row in rows_a:
        a = (tmp_path / "a" / "out" / "images" / f"{row['id']}.png").read_bytes()
        assert a == (tmp_path / "b" / "out" / "images" / f"{row['id']}.png").read_bytes()
    assert before == {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_exif_orientation_is_applied():
    image = Image.new("L", (40, 20), 255)
    image.paste(0, (0, 0, 10, 20))  # ink on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif, quality=95)
    out, transforms = normalize_image(buf.getvalue(), **LIMITS)
    assert out.size == (20, 40)
    assert "exif_orientation" in transforms
    assert np.asarray(out)[:10].mean() < 80  # the ink is now at the top


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (30, 30), (0, 0, 0, 0))  # transparent black background
    rgba.paste((0, 0, 0, 255), (10, 10, 20, 20))
    out, transforms = normalize_image(png_bytes(rgba), **LIMITS)
    pixels = np.asarray(out)
    assert out.mode == "L" and pixels[0, 0] == 255 and pixels[15, 15] == 0
    assert "alpha_on_white" in transforms

    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    palette.info["transparency"] = 0
    out, _ = normalize_image(png_bytes(palette, transparency=0), **LIMITS)
    assert np.asarray(out).min() == 255


def test_16_bit_is_scaled_to_8_bit():
    pixels = np.array([[0, 32768, 65535]], dtype=np.uint16)
    out, transforms = normalize_image(png_bytes(Image.fromarray(pixels)), **LIMITS)
    assert out.mode == "L"
    assert np.asarray(out).tolist() == [[0, 128, 255]]
    assert "16bit_to_8bit" in transforms


def test_12_bit_values_in_16_bit_files_and_float_images_keep_their_contrast():
    twelve = np.array([[0, 2048, 4095]], dtype=np.uint16)  # a scanner's 12 bits in a 16-bit PNG
    out, transforms = normalize_image(png_bytes(Image.fromarray(twelve)), **LIMITS)
    assert np.asarray(out).tolist() == [[0, 128, 255]] and "12bit_to_8bit" in transforms
    buf = io.BytesIO()
    Image.fromarray(np.array([[0.25, 0.5, 0.75]], dtype=np.float32), mode="F").save(buf, format="TIFF")
    out, transforms = normalize_image(buf.getvalue(), **LIMITS)
    assert np.asarray(out).tolist() == [[0, 128, 255]]
    assert transforms == ["float_range_0.25_0.75_to_8bit"]


def test_only_the_first_frame_is_kept_and_that_is_said():
    frames = [Image.new("L", (8, 8), v) for v in (0, 255, 128)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out, transforms = normalize_image(buf.getvalue(), **LIMITS)
    assert np.asarray(out).max() == 0 and "first_of_3_frames" in transforms


def test_odd_names_and_linked_folders_are_ingested_and_said(tmp_path, make_class_tree):
    root = make_class_tree(per_class=1, classes=("i",))
    numeral_image().save(root / "i" / os.fsdecode(b"caf\xe9.png"))  # a latin-1 name from an old archive
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    numeral_image(strokes=3).save(elsewhere / "linked.png")
    os.symlink(elsewhere, root / "i" / "more")
    os.symlink(root / "i", elsewhere / "back")  # a loop: i/more/back -> i
    os.symlink(tmp_path / "gone.png", root / "i" / "dangling.png")
    rows, skipped = run_ingest(tmp_path, [root])
    by_name = {r["original_path"].rsplit("/", 1)[1]: r for r in rows}
    assert set(by_name) == {"i_0.png", "caf\\xe9.png", "linked.png"}
    assert by_name["caf\\xe9.png"]["transforms"] == "name_not_utf8"
    assert by_name["linked.png"]["transforms"] == "via_link:i/more"
    reasons = {s["original_path"].split("/src/")[1]: s["reason"] for s in skipped}
    assert reasons["i/more/back"].endswith("(a loop)")
    assert reasons["i/dangling.png"].startswith("cannot read file")
    write_manifest(tmp_path / "m.csv", rows)  # the manifest stays valid UTF-8
    assert len(read_manifest(tmp_path / "m.csv")) == 3


def test_color_is_converted_to_grayscale():
    out, transforms = normalize_image(png_bytes(Image.new("RGB", (8, 8), (255, 255, 255))), **LIMITS)
    assert out.mode == "L" and np.asarray(out).min() == 255 and "RGB_to_L" in transforms


def test_huge_images_are_refused_before_decoding_and_large_ones_downscaled():
    # a valid PNG header claiming 100000 x 100000 pixels: must be refused without decoding
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    for side in (5_000, 100_000):  # over our limit; over Pillow's own bomb limit too
        header = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                  + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
        with pytest.raises(SkipImage, match="too large"):
            normalize_image(header, **LIMITS)

    out, transforms = normalize_image(png_bytes(numeral_image(2000, 1000)), max_pixels=10_000_000, max_side=500)
    assert out.size == (500, 250)
    assert transforms == ["downscale_2000x1000_to_500x250"]


def test_sources_need_distinct_names_and_must_exist(tmp_path, make_class_tree):
    a = make_class_tree("pool")
    (tmp_path / "other").mkdir()
    b = make_class_tree("other/pool")
    with pytest.raises(ValueError, match="named"):
        parse_sources([str(a), str(b)])
    assert [s.name for s in parse_sources([str(a), {"path": str(b), "name": "pool2"}])] == ["pool", "pool2"]
    with pytest.raises(ValueError, match="does not exist"):
        parse_sources([str(tmp_path / "nowhere")])
    (tmp_path / "list.txt").write_text("not a folder")
    with pytest.raises(ValueError, match="list.txt is a file, not a folder"):
        parse_sources([str(tmp_path / "list.txt")])


@needs_dcai2021
def test_real_competition_data_ingests_completely(tmp_path):
    source = parse_sources([str(DCAI2021)])[0]
    candidates = list(find_candidates(source))
    assert sum(1 for c in candidates if c.original_split == "train" and not c.skip_reason) == 2067
    assert sum(1 for c in candidates if c.original_split == "val" and not c.skip_reason) == 813
    assert all(c.skip_reason == "hidden or system file" for c in candidates if c.skip_reason)
    assert ignored_folders(source) == {"dcai2021/label_book": 52}
    label_book = parse_sources([str(DCAI2021 / "label_book")])[0]
    assert sum(1 for c in find_candidates(label_book) if not c.skip_reason) == 52


def test_a_source_has_a_role(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    sources = parse_sources([str(a), {"path": str(b), "role": "synthetic"}])
    assert [s.role for s in sources] == ["competition", "synthetic"]
    with pytest.raises(ValueError, match="role 'friends' is not one of"):
        parse_sources([{"path": str(b), "role": "friends"}])
