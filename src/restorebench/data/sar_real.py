"""Real complex SAR imagery for the RFI-suppression study: read a focused image, cut it into tiles.

The real-data path starts from Sandia National Laboratories' public complex SAR imagery
(https://www.sandia.gov/radar/pathfinder-radar-isr-and-synthetic-aperture-radar-sar-systems/complex-data/),
collected by the MiniSAR and FARAD airborne radars. MiniSAR is a Ku-band sensor, not the X band of the paper's
sensor (:data:`restorebench.physics.sar.MINISAR_LIKE` is X band with MiniSAR's bandwidth), so a real tile
serves as a realistic reflectivity scene, not as data recorded by the simulated sensor.

* :func:`read_complex_image` opens a focused complex image with ``sarpy``'s generic complex reader (SICD in
  NITF, and the other complex formats sarpy recognises, such as Sandia's GFF) and returns it as a complex64
  array ``image[azimuth line, range sample]``, the layout of :mod:`restorebench.physics.sar`.
* :func:`tiles` cuts the image into square tiles.

A focused tile becomes raw echoes with ``restorebench.physics.sar.simulate_echoes(tile, sensor)``, which
band-limits it to the sensor and applies the exact inverse of the range-Doppler focusing chain. The tile's
pixels are taken as the sensor's sampling grid: the image is not resampled to the sensor's pixel spacing.

``sarpy`` is imported only inside :func:`read_complex_image`, so this module (and :func:`tiles`) works
without it.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np


def _validate(array: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """``array`` as complex64 after checking that it is a non-empty 2-D image of finite values.

    ``path`` is the file the array came from; every error message names it.
    """
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D complex image, got an array of shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{path}: the complex image is empty (shape {array.shape})")
    if not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{path}: the complex image contains {bad} NaN or Inf pixel(s)")
    return array.astype(np.complex64, copy=False)


def read_complex_image(path: str | os.PathLike) -> np.ndarray:
    """The first image of a complex SAR file as a complex64 array ``image[azimuth line, range sample]``.

    Orientation: SICD (and sarpy, which presents every complex format in SICD's layout) stores pixels as
    ``[row, column]`` with the *row* coordinate along range and the *column* coordinate along azimuth
    (cross-range): SICD's ``Grid.Type`` names the row coordinate first, e.g. ``RGAZIM`` = range, azimuth. This
    function transposes that array, so the returned image has ``NumCols`` azimuth lines as rows and ``NumRows``
    range samples as columns: ``image[a, r] == sicd_pixels[r, a]``. (For a SICD with ``Grid.Type == "PLANE"``
    the two axes are an arbitrary orthogonal pair; the same transpose is applied.)

    A file holding several images (e.g. polarisations) yields its first one. Raises FileNotFoundError if the
    file does not exist, ValueError if sarpy cannot open or read it as a complex SAR image, or if the image is
    not a non-empty 2-D array of finite values; both messages name the file. Raises
    restorebench.data.tools.MissingToolError, with the install command, if sarpy is not installed.
    """
    path = Path(path)
    try:
        from sarpy.io.complex.converter import open_complex
    except ImportError as err:
        from .tools import MissingToolError

        raise MissingToolError(f"{path}: reading a SAR product needs sarpy: pip install -e '.[sar]' (or give a 2-D "
                               f"complex .npy)") from err

    if not path.exists():
        raise FileNotFoundError(f"complex SAR image not found: {path}")
    try:
        with warnings.catch_warnings():
            # sarpy >= 2 marks its SICD reader deprecated in favour of sarkit; the reader still works, and the
            # warning on every read is noise for a user who can do nothing about it.
            warnings.filterwarnings("ignore", message=".*sarpy's SICD implementation is deprecated",
                                    category=DeprecationWarning)
            reader = open_complex(str(path))
            try:
                # squeeze=False keeps a one-line image 2-D so that the shape check below sees its real shape
                pixels = reader.read(index=0, squeeze=False)
            finally:
                reader.close()
    except Exception as err:
        # sarpy tries every format it knows, and a malformed file can fail inside any of them with any
        # exception type (SarpyIOError, struct.error, ValueError, ...): report them all as "cannot read this file"
        raise ValueError(f"{path}: cannot read as a complex SAR image with sarpy "
                         f"({type(err).__name__}: {err})") from err

    image = _validate(pixels, path)
    # transpose SICD [range, azimuth] to [azimuth, range]; the copy is contiguous and owns its memory, so the
    # result does not depend on the (closed) reader's buffers
    return np.ascontiguousarray(image.T)


def tiles(image: np.ndarray, size: int, stride: int | None = None) -> list[np.ndarray]:
    """Square ``size`` x ``size`` complex64 tiles of a 2-D image, in row-major order of their top-left corner.

    Tiles start every ``stride`` pixels along both axes (default ``stride = size``: adjacent, non-overlapping
    tiles); tiles that would extend past the image's edge are skipped. The tile at position ``(i, j)`` of
    the tile grid is ``image[i * stride : i * stride + size, j * stride : j * stride + size]``, and the list
    runs over ``j`` fastest. Each tile is a contiguous copy. Raises ValueError if the image is not 2-D, if ``size`` or ``stride`` is not a
    positive integer, or if the image is smaller than one tile along either axis.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (azimuth lines x range samples), got shape {image.shape}")
    stride = size if stride is None else stride
    for name, value in (("size", size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    rows, cols = image.shape
    if rows < size or cols < size:
        raise ValueError(f"image of shape {image.shape} is smaller than one {size} x {size} tile")
    return [np.array(image[i:i + size, j:j + size], dtype=np.complex64, order="C")
            for i in range(0, rows - size + 1, stride)
            for j in range(0, cols - size + 1, stride)]
