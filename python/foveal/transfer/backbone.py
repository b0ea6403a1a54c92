"""``OnnxBackbone``: features from any ONNX image model, run by onnxruntime or, where they can
stand in for it (``_native``), by foveal's own kernels.

Extraction is a two-stage pipeline: while the model runs batch ``i`` (onnxruntime and foveal's kernels
release the GIL), a worker thread gets batch ``i + 1`` (slices an array, or takes it from a ``foveal.data``
iterator, which decodes files on its own thread pool and prefetches one more batch) and turns
it into the model's input tensor (channels, bilinear resize, pixel convention, layout).  Decoding
and preprocessing thus overlap with inference.

``as_layer()`` gives the backbone's layer form, :class:`OnnxBackboneLayer` (the two classes know
each other, so they live together): a frozen ``foveal.nn`` layer whose features are cached per
image (``_cache``). It has no trainable weights and must come first: ``foveal.nn``'s backward
plan asks a layer for its input gradient only when something before it learns, and here nothing
does, so ``backward`` is never called. Gradients cannot flow through onnxruntime; placing the
layer after trainable layers makes ``backward`` raise NotImplementedError.

Saving (``model.save``) stores the backbone's constructor arguments, the ONNX file's absolute
path and SHA-256 in the layer config; the ONNX weights stay in their file. Loading rebuilds the
backbone from that path (FileNotFoundError if the file is gone, ValueError if it changed).
A backbone with a callable ``preprocess`` cannot be saved (NotImplementedError).
"""

from __future__ import annotations

import concurrent.futures as _futures
import contextlib
import hashlib
import io
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from .._checks import as_int, as_option, as_pair, as_real_array
from ..image._pixels import as_pixels
from ..nn import _progress
from ..nn.layers import Layer, register_layer
from .. import _onnx_graph as _graph
from ._cache import CacheInfo, FeatureCache, capacity
from . import _native
from ._preprocess import Preprocess, Preprocessor

__all__ = ["OnnxBackbone", "OnnxBackboneLayer", "DirectoryFeatures", "CacheInfo"]

PathLike = Union[str, "os.PathLike[str]"]
#: Spatial size assumed by :attr:`OnnxBackbone.feature_dim` when the model's is dynamic.
DEFAULT_SIZE = (224, 224)


def _is_batch_source(x: Any) -> bool:
    """An iterator of batches with ``len`` and ``x[i]`` (e.g. foveal.data's), not an array."""
    return (not isinstance(x, (np.ndarray, list, tuple, str, bytes)) and hasattr(x, "__len__")
            and hasattr(x, "__getitem__") and not hasattr(x, "__array__")
            and not hasattr(x, "__array_interface__"))


def _batch_images(item: Any, where: str) -> np.ndarray:
    """The images of one batch from an iterator: ``x`` of an ``(x, y, ...)`` tuple, or ``x``."""
    x = item[0] if isinstance(item, (tuple, list)) else item
    arr = as_real_array(x, where)
    if arr.ndim != 4:
        raise ValueError(f"{where} must give N x H x W x C image batches, got shape {arr.shape}")
    return arr


class DirectoryFeatures(NamedTuple):
    """What :meth:`OnnxBackbone.extract_directory` returns.

    ``features`` is ``N x D`` float32, one row per readable image in ``flow_from_directory``'s
    order; ``labels`` the int32 class index of each row (-1 for a folder without class
    subfolders); ``filenames`` the rows' paths relative to the folder (``"cls/img.jpg"``);
    ``class_names`` the class subfolders in label order; ``skipped`` the paths of the
    unreadable files, in file order: none of them has a row, and no other image stands in.
    """

    features: np.ndarray
    labels: np.ndarray
    filenames: List[str]
    class_names: List[str]
    skipped: List[str]


class OnnxBackbone:
    """A pretrained image model (an ONNX file) used as a frozen feature extractor.

    Args:
        path: the ``.onnx`` file (FileNotFoundError if missing, ValueError if not ONNX).
        output: the tensor to return; None picks the pooled features before the classifier:
            the input of the last ``Gemm``/``MatMul`` node from which the graph output follows
            (through bias, activation, softmax or reshaping nodes only). A feature extractor
            exported without a classifier (no such node at its end) gives its one graph output
            instead: ``N x D``, or ``N x C x 1 x 1`` / ``N x 1 x 1 x C`` after a global pool,
            flattened to ``N x C``; a spatial map (``N x C x H x W`` or ``N x H x W x C``,
            H or W > 1) is averaged over H and W, as Keras's ``pooling="avg"`` does (the
            features its classifier would have pooled; ``pooling`` is then ``"avg"``). A named
            tensor is only flattened to ``N x D`` (naming the map keeps every position:
            ``C*H*W`` features). An unknown name is a ValueError that lists candidates. Only
            the nodes this tensor needs are run.
        preprocess: pixel convention of the pretrained weights: ``"torch"`` (ImageNet
            mean/std; torchvision), ``"caffe"`` (BGR, ImageNet mean subtracted), ``"tf"``
            ([-1, 1]), ``"none"``, or a callable (the table of conventions is ``foveal.transfer.CONVENTIONS``).
            Images are taken to hold 0..255 values, uint8 or float (as Keras's
            ``preprocess_input``).
        input_size: ``(height, width)`` (or one int) to resize images to when the model's
            spatial size is dynamic; it must agree with a fixed size. With neither, arrays keep
            their size and directories need ``input_size``.
        batch_size: images per ``session.run`` (a model with a fixed batch axis runs that many,
            the last run padded).
        providers: onnxruntime execution providers (default ``["CPUExecutionProvider"]``);
            given, the model runs on onnxruntime with them (``engine`` is then
            ``"onnxruntime"``).
        layout: ``"NCHW"``/``"NHWC"`` to override the layout read from the input's dims (a
            channel axis of 1 or 3 after the batch axis is NCHW, at the end NHWC).
        num_threads: onnxruntime intra-op threads (default ``foveal.get_num_threads()``).
        engine: what runs the model: ``"auto"`` (default) foveal's own kernels where they can
            (``foveal.transfer._native``: every node up to the features has a foveal layer,
            float32 input of known size, a named ``preprocess``, no ``providers`` or ``output``
            given, the default thread count; checked against onnxruntime on a probe image),
            else onnxruntime;
            ``"onnxruntime"``; or ``"foveal"`` (ValueError where it cannot).

    Attributes:
        path (absolute), engine (``"foveal"`` or ``"onnxruntime"``: what runs the model),
        output (tensor name), pooling (``"avg"`` when ``output=None`` took a
        headless model's output, whose spatial maps are averaged; else None), layout,
        channels, input_name, input_size (``(h, w)`` images are resized to, or None),
        batch_size, preprocess.

    Example::

        backbone = OnnxBackbone("resnet18.onnx")            # torchvision export: NCHW, 224
        feats = backbone.extract("photos/")                   # N x 512 float32
        head = nn.Sequential([nn.Input((backbone.feature_dim,)), nn.Dense(2, "softmax")])
    """

    def __init__(self, path: PathLike, output: Optional[str] = None, preprocess: Preprocess = "torch",
                 input_size: Any = None, batch_size: int = 32,
                 providers: Optional[Sequence[Any]] = None, *, layout: Optional[str] = None,
                 num_threads: Optional[int] = None, engine: str = "auto") -> None:
        try:
            self.path = os.path.abspath(os.fspath(path))
        except TypeError:
            raise TypeError(f"path must be a file path, got {type(path).__name__}") from None
        self.batch_size = as_int(batch_size, "batch_size", 1)
        if num_threads is None:
            from .. import get_num_threads
            num_threads = get_num_threads()
        self.num_threads = as_int(num_threads, "num_threads", 1)
        engine = as_option(engine, "engine", ("auto", "onnxruntime", "foveal"))
        ort = _graph.require("onnxruntime")
        model = _graph.load(self.path)
        self._input = _graph.image_input(model, self.path, layout)
        self.input_name, self.layout, self.channels = (self._input.name, self._input.layout,
                                                       self._input.channels)
        self.input_size = self._target_size(input_size)
        self.pooling: Optional[str] = None
        if output is None:
            self.output, headless = _graph.find_features(model, self.path)
            if headless:
                self.pooling = "avg"
        else:
            _graph.check_output(model, output, self.path)
            self.output = output
        self.preprocess = preprocess.lower() if isinstance(preprocess, str) else preprocess
        self._preprocessor = Preprocessor(preprocess, self.channels, self.layout, self.input_size,
                                          self._input.dtype)
        self._output_arg, self._layout_arg = output, layout
        self.providers = list(providers) if providers is not None else ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.num_threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(_graph.cut_at(model, self.output).SerializeToString(),
                                                 options, providers=self.providers)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ValueError(f"path: onnxruntime cannot load {self.path!r}: {e}") from None
        self._feature_dim: Optional[int] = None
        self._sha256: Optional[str] = None
        self._engine_arg = engine
        self._native: Optional[_native.NativeEngine] = None
        if engine != "onnxruntime":
            self._native = self._native_engine(output is None and providers is None)
        if engine == "foveal" and self._native is None:
            raise ValueError(f"engine='foveal': {self.path!r} cannot run on foveal's kernels (a node "
                             "without a foveal layer, a named output, providers, a callable "
                             "preprocess, a pooled headless map, a non-float32 input or an unknown "
                             "size); use 'auto'")
        self.engine = "onnxruntime" if self._native is None else "foveal"

    def _native_engine(self, eligible: bool) -> Optional[_native.NativeEngine]:
        """foveal's engine for this backbone where it can stand in for onnxruntime, else None."""
        from .. import get_num_threads

        if (not eligible or self.pooling is not None or self.num_threads != get_num_threads()
                or not isinstance(self.preprocess, str)):   # a callable is not called to probe
            return None
        return _native.build(self.path, self.preprocess, self.channels, self.layout, self.input_size,
                             self._input.dtype, lambda px: self._run(self._preprocessor(px)))

    # ---- description ------------------------------------------------------------------------
    def _target_size(self, input_size: Any) -> Optional[Tuple[int, int]]:
        fixed = self._input.spatial
        if input_size is None:
            return None if None in fixed else (int(fixed[0]), int(fixed[1]))  # type: ignore[arg-type]
        size = as_pair(input_size, "input_size", 1)
        if any(f is not None and f != s for f, s in zip(fixed, size)):
            raise ValueError(f"input_size {size} does not match the model's fixed input size "
                             f"{tuple(fixed)} (height, width)")
        return size

    @property
    def feature_dim(self) -> int:
        """``D``, the length of one feature vector (found by running one blank image; for a
        model of dynamic size without ``input_size``, at 224 x 224)."""
        if self._feature_dim is None:
            h, w = self.input_size or DEFAULT_SIZE
            self._feature_dim = int(self._run(self._preprocessor(
                np.zeros((1, h, w, self.channels), np.uint8))).shape[1])
        return self._feature_dim

    def config(self) -> dict:
        """The constructor arguments that rebuild this backbone (JSON-serializable; a callable
        ``preprocess`` cannot be and raises NotImplementedError)."""
        if not isinstance(self.preprocess, str):
            raise NotImplementedError("a backbone with a callable preprocess cannot be serialized; "
                                      "use a named convention ('torch', 'caffe', 'tf', 'none')")
        config = {"path": self.path, "output": self._output_arg, "preprocess": self.preprocess,
                  "input_size": None if self.input_size is None else list(self.input_size),
                  "batch_size": self.batch_size, "layout": self._layout_arg}
        if self._engine_arg != "auto":
            config["engine"] = self._engine_arg
        return config

    def sha256(self) -> str:
        """The SHA-256 of the ONNX file (computed on first use, then kept)."""
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path)
        return self._sha256

    def __repr__(self) -> str:
        size = "x".join(map(str, self.input_size)) if self.input_size else "any size"
        dim = "?" if self._feature_dim is None else str(self._feature_dim)
        pooled = ", spatial average" if self.pooling else ""
        return (f"<OnnxBackbone {os.path.basename(self.path)!r}: {self.layout} {size} x "
                f"{self.channels} -> {self.output!r} (D={dim}{pooled}), "
                f"preprocess={self.preprocess!r}>")

    # ---- running --------------------------------------------------------------------------
    def _run(self, tensor: np.ndarray) -> np.ndarray:
        """The model on one prepared input tensor (:meth:`prepare`'s) -> ``N x D`` float32."""
        if self._native is not None:
            return self._native.run(self._native.from_model_layout(tensor))
        n = tensor.shape[0]
        fixed = self._input.batch
        if fixed is None:
            outs = [self._session.run([self.output], {self.input_name: tensor})[0]]
        else:   # a model exported with a fixed batch axis: runs of exactly that many, padded
            outs = []
            for start in range(0, n, fixed):
                part = tensor[start:start + fixed]
                if len(part) < fixed:
                    pad = np.zeros((fixed - len(part),) + part.shape[1:], part.dtype)
                    part = np.concatenate([part, pad])
                outs.append(self._session.run([self.output], {self.input_name: part})[0])
        y = np.concatenate(outs) if len(outs) > 1 else outs[0]
        if y.ndim == 0 or y.shape[0] < n or (fixed is None and y.shape[0] != n):
            raise ValueError(f"output {self.output!r} has shape {y.shape}: not one row per image "
                             f"(N = {n}); choose a tensor with a batch axis")
        y = y[:n]
        if self.pooling == "avg" and y.ndim == 4:   # a headless model's map: global average
            hw = tensor.shape[2:4] if self.layout == "NCHW" else tensor.shape[1:3]
            axes = _graph.spatial_axes(y.shape, self.layout, (int(hw[0]), int(hw[1])))
            y = y.mean(axis=axes, dtype=np.float64)
        return np.ascontiguousarray(y.reshape(n, -1), dtype=np.float32)

    def _pipeline(self, n_batches: int, get: Callable[[int], np.ndarray], verbose: int,
                  empty: str = "x: every batch is empty; no image to extract features from"
                  ) -> np.ndarray:
        """Features of batches ``get(0) .. get(n_batches - 1)``, each batch fetched and prepared
        on a worker thread while the model runs the one before. Batches may differ in length
        (an iterator leaving out unreadable files); an empty one adds no row and is not run.
        ValueError(``empty``) when no batch has an image."""
        progress = _progress.bar(n_batches, "Extract") if verbose == 1 else None
        outs: List[np.ndarray] = []

        native = self._native

        def fetch(i: int) -> Optional[np.ndarray]:
            batch = get(i)
            if not len(batch):
                return None
            # the native engine's NHWC input, made here on the worker thread
            return native.preprocessor(as_pixels(batch, "x")) if native is not None else self.prepare(batch)

        try:
            with _futures.ThreadPoolExecutor(1, thread_name_prefix="foveal-backbone") as pool:
                ahead = pool.submit(fetch, 0)
                for i in range(n_batches):
                    tensor = ahead.result()
                    if i + 1 < n_batches:
                        ahead = pool.submit(fetch, i + 1)
                    if tensor is not None:
                        outs.append(native.run(tensor) if native is not None else self._run(tensor))
                    if progress is not None:
                        progress.update(1)
        finally:
            if progress is not None:
                progress.close()
        if not outs:
            raise ValueError(empty)
        return np.concatenate(outs) if len(outs) > 1 else outs[0]

    # ---- public extraction ----------------------------------------------------------------
    def extract(self, x: Any, verbose: Union[str, int] = "auto") -> np.ndarray:
        """Features of images, ``N x D`` float32 (rows in input order).

        Args:
            x: an ``N x H x W x C`` array (uint8 or float 0..255, C in 1, 3, 4: gray is
                repeated, alpha dropped), a ``foveal.data`` iterator (its ``x`` batches, labels
                ignored, ``len(x)`` batches once, in order; one row per image they hold, so a
                batch shortened by unreadable files gives fewer rows, an empty one none), or a
                folder path (indexed as ``flow_from_directory(class_mode=None, shuffle=False)``;
                unreadable files have no row; see :meth:`extract_directory`).
            verbose: ``"auto"``/1 a progress bar, 0 (or 2) none.
        """
        verbose = _progress.verbosity(verbose)
        if isinstance(x, (str, os.PathLike)):
            return self.extract_directory(x, verbose).features
        if _is_batch_source(x):
            return self._extract_iterator(x, verbose)
        arr = as_real_array(x, "x")
        if arr.ndim != 4:
            raise ValueError(f"x must be an N x H x W x C batch of images, got shape {arr.shape}"
                             + (" (one image: add a batch axis, x[None])" if arr.ndim == 3 else ""))
        if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
            raise ValueError(f"x is empty (shape {arr.shape})")
        if arr.shape[3] not in (1, 3, 4):
            raise ValueError(f"x must have 1, 3 or 4 channels (last axis), got shape {arr.shape}")
        bs = self.batch_size
        return self._pipeline(-(-len(arr) // bs), lambda i: arr[i * bs:(i + 1) * bs], verbose)

    def _extract_iterator(self, it: Any, verbose: int) -> np.ndarray:
        count = len(it)
        if count == 0:
            raise ValueError("x: the iterator is empty (len(x) == 0)")
        return self._pipeline(count, lambda i: _batch_images(it[i], "x (iterator)"), verbose)

    def directory_iterator(self, directory: PathLike, verbose: Union[str, int] = 0) -> Any:
        """The ``foveal.data.DirectoryIterator`` that :meth:`extract_directory` reads: the
        model's size and channels, file order (``shuffle=False``), ``class_mode=None``,
        bilinear resizing, ``batch_size`` images per batch; one subfolder per class, or the
        images directly in ``directory`` when it has no subfolders."""
        from ..data import DirectoryIterator

        if self.input_size is None:
            raise ValueError("directory: the model's input size is dynamic; pass "
                             "input_size=(height, width) to OnnxBackbone to read image files")
        quiet = _progress.verbosity(verbose) != 1
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            return DirectoryIterator(directory, None, target_size=self.input_size,
                                     color_mode="rgb" if self.channels == 3 else "grayscale",
                                     classes=["."] if _is_flat(directory) else None,
                                     class_mode=None, batch_size=self.batch_size, shuffle=False,
                                     interpolation="bilinear")

    def prepare(self, x: Any) -> np.ndarray:
        """The model's input tensor for an ``N x H x W x C`` batch: channels matched, resized,
        the pixel convention applied, in the model's layout and dtype."""
        return self._preprocessor(as_pixels(x, "x"))

    def extract_directory(self, directory: PathLike, verbose: Union[str, int] = "auto"
                          ) -> DirectoryFeatures:
        """Features of every image under ``directory`` with their labels and file names.

        Class subfolders and file order follow ``flow_from_directory`` (subfolders sorted by
        name; a folder without subfolders is read as unlabelled images, label -1). Files are
        decoded on a thread pool while the model runs. An unreadable file is skipped (one
        warning, from the iterator, for the first) and listed in ``skipped`` (in file order):
        it has no row, and no other image takes its place, so ``features``, ``labels`` and
        ``filenames`` stay aligned, one row per readable file. Raises FileNotFoundError for a
        missing folder and ValueError when it holds no image, or none that can be read.
        """
        verbose = _progress.verbosity(verbose)
        it = self.directory_iterator(directory, verbose)
        flat = _is_flat(it.directory)
        if it.samples == 0:
            raise ValueError(f"directory: no images ({', '.join(it.white_list_formats)}) found in "
                             f"{it.directory!r}" + ("" if flat else " or its subfolders"))
        paths, bs = it.filepaths, it.batch_size
        rows: List[List[int]] = [[] for _ in range(len(it))]

        def get(i: int) -> np.ndarray:
            """Batch i's images, one per readable file of files i*bs ... (i+1)*bs - 1 (listed
            in rows[i]): the iterator leaves an unreadable file out (a shorter batch)."""
            x = _batch_images(it[i], "directory")
            lo, hi = i * bs, min((i + 1) * bs, it.samples)
            bad = set(it.skipped)   # complete for these files: every one was tried for it[i]
            good = [j for j in range(lo, hi) if paths[j] not in bad]
            if len(x) != len(good):
                raise RuntimeError(f"directory: batch {i} has {len(x)} images for files {lo} .. "
                                   f"{hi - 1}, of which {len(good)} are readable; cannot tell "
                                   "which image belongs to which file")
            rows[i] = good
            return x

        features = self._pipeline(len(it), get, verbose,
                                  f"directory: none of the {it.samples} images in "
                                  f"{it.directory!r} can be read")
        keep = [j for r in rows for j in r]
        names = [it.filenames[j][2:] if flat and it.filenames[j].startswith("./")
                 else it.filenames[j] for j in keep]
        labels = (np.full(len(names), -1, np.int32) if flat
                  else np.asarray(it.classes, np.int32)[np.asarray(keep, np.int64)])
        classes = [] if flat else sorted(it.class_indices, key=it.class_indices.__getitem__)
        bad = set(it.skipped)
        return DirectoryFeatures(features, labels, names, classes,
                                 [p for p in paths if p in bad])

    def as_layer(self, cache_mb: float = 256.0, name: Optional[str] = None) -> Any:
        """This backbone as a frozen ``foveal.nn`` layer (``N x H x W x C`` -> ``N x D``) that
        caches each image's features (see :class:`~foveal.transfer.OnnxBackboneLayer`)."""
        return OnnxBackboneLayer(self, cache_mb=cache_mb, name=name)


@register_layer
class OnnxBackboneLayer(Layer):
    """A frozen ONNX backbone as a layer: ``N x H x W x C`` images (0..255, resized as the
    backbone does) -> ``N x D`` float32 features. Usually made by
    :meth:`OnnxBackbone.as_layer`::

        model = nn.Sequential([nn.Input((224, 224, 3)), backbone.as_layer(),
                               nn.Dense(2, activation="softmax")])

    Args:
        backbone: an :class:`OnnxBackbone`, a path to an ONNX file, or the backbone's
            :meth:`~OnnxBackbone.config` dict.
        cache_mb: memory for cached features, in MiB (0 turns the cache off).
        sha256: the ONNX file's expected SHA-256 (set by ``from_config``; a mismatch is a
            ValueError).
        name, input_shape: as for every layer. ``trainable`` can only be False.
    """

    def __init__(self, backbone: Union[OnnxBackbone, PathLike, Dict[str, Any]],
                 cache_mb: float = 256.0, sha256: Optional[str] = None, **kwargs: Any) -> None:
        if kwargs.pop("trainable", False):
            raise ValueError("OnnxBackboneLayer is frozen: trainable must be False")
        super().__init__(trainable=False, **kwargs)
        self.cache_mb = float(cache_mb)
        if not self.cache_mb >= 0:
            raise ValueError(f"cache_mb must be >= 0, got {cache_mb!r}")
        if not isinstance(backbone, OnnxBackbone):
            config = dict(backbone) if isinstance(backbone, dict) else {"path": backbone}
            if sha256 is not None:   # before loading: a changed file may not even fit the config
                _check_unchanged(config["path"], sha256)
            backbone = OnnxBackbone(**config)
            backbone._sha256 = sha256
        elif sha256 is not None:
            _check_unchanged(backbone.path, sha256)
        self.backbone = backbone
        self._cache = FeatureCache()

    # ---- frozen -------------------------------------------------------------------------
    _always_frozen = True

    @property
    def trainable(self) -> bool:
        """Always False: the backbone's weights live in the ONNX file."""
        return False

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if value:
            raise ValueError("OnnxBackboneLayer is frozen (onnxruntime runs inference only); "
                             "its trainable flag cannot be set")

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        """Nothing to learn here: returns None. Raises NotImplementedError when an input
        gradient is asked for (the layer was put after trainable layers)."""
        if need_dx:
            raise NotImplementedError(f"gradients cannot flow through {self.name!r} "
                                      "(OnnxBackboneLayer, run by onnxruntime): put it first, "
                                      "before any layer with trainable weights")
        return None

    # ---- shapes -------------------------------------------------------------------------
    def _check_input_shape(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) != 4 or (shape[3] is not None and shape[3] not in (1, 3, 4)):
            raise ValueError(f"layer {self.name!r} (OnnxBackboneLayer) takes N x H x W x C images "
                             f"with C in 1, 3, 4, got shape {shape}")

    def build(self, input_shape: Any) -> None:
        self._check_input_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        self._check_input_shape(input_shape)
        return (None, self.backbone.feature_dim)

    # ---- forward with the cache ---------------------------------------------------------
    @property
    def _capacity(self) -> int:
        return capacity(self.cache_mb, self.backbone.feature_dim)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Features of ``x``: cached rows where the same image was seen before, the backbone
        on the rest (once per distinct image of the batch)."""
        return self._cache.features(x, self._capacity, self.backbone.feature_dim,
                                    lambda images: self.backbone.extract(images, verbose=0))

    def cache_info(self) -> CacheInfo:
        """Cache statistics since creation or :meth:`clear_cache` (as ``functools.lru_cache``)."""
        return self._cache.info(self._capacity)

    def clear_cache(self) -> None:
        """Drop every cached feature and reset the statistics."""
        self._cache.clear()

    # ---- config -------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """Layer settings plus the backbone's constructor arguments and the ONNX file's
        SHA-256 (NotImplementedError for a callable ``preprocess``)."""
        return {**super().get_config(), "backbone": self.backbone.config(),
                "sha256": self.backbone.sha256(), "cache_mb": self.cache_mb}

    def __repr__(self) -> str:
        return f"<OnnxBackboneLayer name={self.name!r} backbone={self.backbone!r}>"


def _check_unchanged(path: PathLike, sha256: str) -> None:
    """FileNotFoundError or ValueError unless the file at ``path`` has this SHA-256."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"the backbone's ONNX file {os.fspath(path)!r} is gone")
    found = file_sha256(os.fspath(path))
    if found != sha256:
        raise ValueError(f"the ONNX file {os.fspath(path)!r} changed since this layer was saved "
                         f"(SHA-256 {found}, saved {sha256})")


def _is_flat(directory: Any) -> bool:
    """True for a folder without subfolders (its images are then read unlabelled)."""
    try:
        return not any(e.is_dir() for e in os.scandir(directory))
    except (OSError, TypeError):
        return False   # not a folder: DirectoryIterator says what is wrong


def file_sha256(path: str) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
