"""The ``foveal`` command line: ``foveal demo`` (the course end to end), ``foveal info``,
``foveal bench [--quick]``, ``foveal extract BACKBONE DIR -o OUT.npz`` and
``foveal augment-preview DIR -o grid.png``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence


def _info(args: argparse.Namespace) -> int:
    import foveal

    info = foveal.build_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        print(f"{key:<{width}}  {value}")
    return 0


def _augment_preview(args: argparse.Namespace) -> int:
    """``foveal augment-preview DIR -o grid.png``: originals and random augmentations."""
    import os

    from foveal import image
    from foveal.data import ImageDataGenerator, augmentation_preview

    parser: argparse.ArgumentParser = args.parser
    if not os.path.isdir(args.dir):
        parser.error(f"DIR: no such folder: {args.dir!r}")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        parser.error(f"-o/--output: no such folder: {out_dir!r}")
    try:
        gen = ImageDataGenerator(rotation_range=args.rotation_range,
                                 width_shift_range=args.width_shift_range,
                                 height_shift_range=args.height_shift_range,
                                 zoom_range=args.zoom_range, shear_range=args.shear_range,
                                 brightness_range=args.brightness_range,
                                 channel_shift_range=args.channel_shift_range,
                                 horizontal_flip=args.horizontal_flip,
                                 vertical_flip=args.vertical_flip, fill_mode=args.fill_mode)
        grid = augmentation_preview(args.dir, gen, rows=args.rows, samples=args.samples,
                                    tile=args.tile, seed=args.seed)
        image.write(args.output, grid)  # atomic: a temporary file in the same folder, then renamed
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    print(f"wrote {args.output} ({grid.shape[1]}x{grid.shape[0]} pixels)")
    return 0


def _add_augment_preview(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("augment-preview",
                       help="draw a grid of images from DIR and random augmentations of each",
                       description="Draw a grid: each row one image from DIR (class subfolders or a flat "
                                   "folder; one image per class in turn), followed by random "
                                   "augmentations of it with ImageDataGenerator's settings.")
    p.add_argument("dir", metavar="DIR", help="folder of images, or of class subfolders of images")
    p.add_argument("-o", "--output", default="augment_preview.png",
                   help="the grid image to write, PNG (default: %(default)s)")
    p.add_argument("--rows", type=int, default=4, help="images, one per row (default: %(default)s)")
    p.add_argument("--samples", type=int, default=6, help="augmentations per image (default: %(default)s)")
    p.add_argument("--tile", type=int, default=160, help="tile size in pixels (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--rotation-range", type=float, default=20, help="degrees (default: %(default)s)")
    p.add_argument("--width-shift-range", type=float, default=0.1, help="(default: %(default)s)")
    p.add_argument("--height-shift-range", type=float, default=0.1, help="(default: %(default)s)")
    p.add_argument("--zoom-range", type=float, default=0.2, help="(default: %(default)s)")
    p.add_argument("--shear-range", type=float, default=0.0, help="degrees (default: %(default)s)")
    p.add_argument("--brightness-range", type=float, nargs=2, default=(0.8, 1.2), metavar=("LOW", "HIGH"),
                   help="(default: 0.8 1.2)")
    p.add_argument("--channel-shift-range", type=float, default=0.0, help="(default: %(default)s)")
    p.add_argument("--no-horizontal-flip", dest="horizontal_flip", action="store_false",
                   help="do not flip left-right at random")
    p.add_argument("--vertical-flip", action="store_true", help="flip top-bottom at random")
    p.add_argument("--fill-mode", default="nearest", choices=("nearest", "constant", "reflect", "wrap"),
                   help="(default: %(default)s)")
    p.set_defaults(func=_augment_preview, parser=p)


def _demo(args: argparse.Namespace) -> int:
    """``foveal demo``: see :mod:`foveal.demo`."""
    from foveal.demo import run_demo

    if args.threads is not None:
        import foveal

        foveal.set_num_threads(args.threads)
    run_demo(args.output, quick=args.quick, seed=args.seed, verbose=0 if args.quiet else 1)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from foveal._bench_cmd import run_benchmarks

    return run_benchmarks(quick=args.quick, only=args.only or ())


def _extract(args: argparse.Namespace) -> int:
    from foveal.transfer import extract_command

    if args.workers is not None and args.ray is None:
        args.parser.error("--workers needs --ray")
    return extract_command(args.backbone, args.dir, args.output, batch_size=args.batch_size,
                           preprocess=args.preprocess, use_ray=args.ray is not None,
                           ray_address=args.ray or None, workers=args.workers)


def _add_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("demo", help="the course end to end: data, augmented training, pictures, "
                                    "ONNX export, transfer learning (offline, under a minute)")
    p.add_argument("-o", "--output", default="foveal_demo",
                   help="folder for the dataset, pictures and model (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="a small dataset and 2 epochs (seconds)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="native threads (default: OpenMP's, i.e. OMP_NUM_THREADS or all cores)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_demo)
    p = sub.add_parser("bench", help="run the benchmarks of a foveal checkout (bench/bench_*.py)")
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes")
    p.add_argument("--only", nargs="*", metavar="NAME",
                   help="run only the scripts whose name contains NAME (e.g. train data)")
    p.set_defaults(func=_bench)
    p = sub.add_parser("extract", help="features of a folder of images from an ONNX backbone")
    p.add_argument("backbone", metavar="BACKBONE", help="the ONNX model file")
    p.add_argument("dir", metavar="DIR", help="a folder of images (class subfolders or flat)")
    p.add_argument("-o", "--output", required=True, help="the .npz to write (features, labels, file names)")
    p.add_argument("--batch-size", type=int, default=32, help="(default: %(default)s)")
    p.add_argument("--preprocess", default="torch", choices=("torch", "caffe", "tf", "none"),
                   help="the backbone's input convention (default: %(default)s)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster (pip install 'foveal[distributed]'): ADDRESS as "
                        "ray.init's ('auto', 'host:port'), none for a local one; -o not ending "
                        "in .npz is then a folder of Parquet files")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="with --ray: worker actors (default: one per CPU of the cluster)")
    p.set_defaults(func=_extract, parser=p)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="foveal", description="fast deep learning for image data")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="print the build: version, compiler, OpenMP, CPU features, ISA")
    p_info.add_argument("--json", action="store_true", help="print JSON")
    p_info.set_defaults(func=_info)
    _add_commands(sub)
    _add_augment_preview(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
