"""Reading real complex SAR files (SICD written here with sarpy's own writer) and cutting them into tiles."""
import warnings

import numpy as np
import pytest

sarpy = pytest.importorskip("sarpy")

from sarpy.io.complex.sicd import SICDWriter  # noqa: E402
from sarpy.io.complex.sicd_elements.CollectionInfo import CollectionInfoType  # noqa: E402
from sarpy.io.complex.sicd_elements.Grid import GridType  # noqa: E402
from sarpy.io.complex.sicd_elements.ImageData import FullImageType, ImageDataType  # noqa: E402
from sarpy.io.complex.sicd_elements.SICD import SICDType  # noqa: E402
from sarpy.io.complex.sicd_elements.Timeline import TimelineType  # noqa: E402

from restorebench.data.sar_real import _validate, read_complex_image, tiles  # noqa: E402
from restorebench.physics.sar import MINISAR_LIKE, band_limit, focus, simulate_echoes  # noqa: E402

N_RANGE, N_AZIMUTH = 64, 96   # SICD NumRows (range) and NumCols (azimuth) of the test file


def sicd_pixels(n_rows=N_RANGE, n_cols=N_AZIMUTH):
    """A known complex64 SICD array [row = range, column = azimuth]: row + j column, plus float32 noise < 0.25.

    The integer parts say where each pixel was written; the noise makes the values non-trivial floats.
    """
    rows, cols = np.mgrid[0:n_rows, 0:n_cols]
    noise = np.random.default_rng(7).uniform(-0.2, 0.2, size=(2, n_rows, n_cols))
    return ((rows + noise[0]) + 1j * (cols + noise[1])).astype(np.complex64)


def write_sicd(path, pixels):
    """Write ``pixels`` [row, column] as a SICD (NITF) file with sarpy's writer and the metadata it needs.

    sarpy 2.1 needs ImageData; CollectionInfo (classification for the NITF security tags) and Timeline
    feed the NITF header, and FTITLE spares sarpy building a product name from metadata we do not have.
    The file is not a complete SICD product (no geometry or radar parameters): it is what sarpy writes and
    reads, which is all the reader under test uses.
    """
    n_rows, n_cols = pixels.shape
    meta = SICDType(
        ImageData=ImageDataType(PixelType="RE32F_IM32F", NumRows=n_rows, NumCols=n_cols, FirstRow=0,
                                FirstCol=0, FullImage=FullImageType(NumRows=n_rows, NumCols=n_cols),
                                SCPPixel=[n_rows // 2, n_cols // 2]),
        CollectionInfo=CollectionInfoType(CollectorName="SYNTHETIC", CoreName="RESTOREBENCH_TEST",
                                          Classification="UNCLASSIFIED"),
        Timeline=TimelineType(CollectStart=np.datetime64("2020-01-01T00:00:00")),
        # the grid type says, in the file, that rows are range and columns azimuth
        Grid=GridType(ImagePlane="SLANT", Type="RGAZIM"),
    )
    meta.NITF = {"FTITLE": "restorebench test SICD"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # sarpy's SICD writer is deprecated for sarkit
        with SICDWriter(str(path), meta) as writer:
            writer.write(pixels, start_indices=(0, 0))
    return path


@pytest.fixture
def sicd_file(tmp_path):
    return write_sicd(tmp_path / "scene.nitf", sicd_pixels())


def test_sicd_round_trip_is_exact_and_azimuth_by_range(sicd_file):
    image = read_complex_image(sicd_file)
    assert image.dtype == np.complex64
    assert image.shape == (N_AZIMUTH, N_RANGE)
    assert image.flags["C_CONTIGUOUS"]
    # float32 values survive the file bit for bit; the array comes back transposed
    np.testing.assert_array_equal(image, sicd_pixels().T)
    # orientation: image[a, r] was written at SICD row r (range), column a (azimuth)
    az, rg = np.mgrid[0:N_AZIMUTH, 0:N_RANGE]
    np.testing.assert_array_equal(np.round(image.real), rg)
    np.testing.assert_array_equal(np.round(image.imag), az)


def test_reader_accepts_str_paths(sicd_file):
    np.testing.assert_array_equal(read_complex_image(str(sicd_file)), read_complex_image(sicd_file))


def test_non_sar_file_is_refused_naming_it(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not a SAR image\n")
    with pytest.raises(ValueError, match="notes.txt") as info:
        read_complex_image(text)
    assert str(text) in str(info.value)


def test_missing_file_is_refused_naming_it(tmp_path):
    missing = tmp_path / "absent.nitf"
    with pytest.raises(FileNotFoundError) as info:
        read_complex_image(missing)
    assert str(missing) in str(info.value)


def test_sicd_with_nan_is_refused_naming_it(tmp_path):
    pixels = sicd_pixels()
    pixels[3, 5] = np.nan
    path = write_sicd(tmp_path / "with_nan.nitf", pixels)
    with pytest.raises(ValueError, match="NaN or Inf") as info:
        read_complex_image(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("bad, message", [
    (np.array([[1, np.inf]], dtype=np.complex64), "NaN or Inf"),
    (np.array([[1, complex(0, np.nan)]], dtype=np.complex64), "NaN or Inf"),
    (np.zeros((4, 4, 2), dtype=np.complex64), "2-D"),
    (np.zeros((0, 4), dtype=np.complex64), "empty"),
])
def test_validate_refuses_bad_arrays_naming_the_file(bad, message):
    with pytest.raises(ValueError, match=message) as info:
        _validate(bad, "some/dir/image.nitf")
    assert "some/dir/image.nitf" in str(info.value)


def test_validate_returns_complex64():
    out = _validate(np.ones((2, 3), dtype=np.complex128), "x.nitf")
    assert out.dtype == np.complex64 and out.shape == (2, 3)


def test_tiles_count_shape_and_contents():
    image = (np.arange(10 * 13).reshape(10, 13) * (1 + 1j)).astype(np.complex128)
    out = tiles(image, 4)
    assert len(out) == 2 * 3                      # partial tiles at the edges are skipped
    assert all(t.shape == (4, 4) and t.dtype == np.complex64 for t in out)
    np.testing.assert_array_equal(out[0], image[:4, :4])
    np.testing.assert_array_equal(out[1], image[:4, 4:8])      # row-major order of tile corners
    np.testing.assert_array_equal(out[3], image[4:8, :4])
    # tiles are copies: editing one leaves the image alone
    out[0][0, 0] = 99
    assert image[0, 0] == 0


def test_tiles_with_stride():
    image = np.arange(10 * 13).reshape(10, 13).astype(np.complex64)
    out = tiles(image, 4, stride=3)
    assert len(out) == 3 * 4                      # corners at rows 0, 3, 6 and columns 0, 3, 6, 9
    np.testing.assert_array_equal(out[1], image[0:4, 3:7])
    np.testing.assert_array_equal(out[-1], image[6:10, 9:13])
    assert len(tiles(image, 10)) == 1


@pytest.mark.parametrize("shape, size, stride", [((3, 8), 4, None), ((8, 3), 4, None)])
def test_tiles_refuses_image_smaller_than_a_tile(shape, size, stride):
    with pytest.raises(ValueError, match="smaller than one"):
        tiles(np.zeros(shape, dtype=np.complex64), size, stride)


@pytest.mark.parametrize("size, stride", [(0, None), (4, 0), (-2, None), (2.5, None), (4, True)])
def test_tiles_refuses_bad_size_or_stride(size, stride):
    with pytest.raises(ValueError, match="positive integer"):
        tiles(np.zeros((8, 8), dtype=np.complex64), size, stride)


def test_tiles_refuses_non_2d_image():
    with pytest.raises(ValueError, match="2-D"):
        tiles(np.zeros(16, dtype=np.complex64), 4)


def test_real_tile_becomes_echoes_that_focus_back(sicd_file):
    tile = tiles(read_complex_image(sicd_file), 32)[0]
    echoes = simulate_echoes(tile, MINISAR_LIKE, workers=1)
    assert echoes.shape == tile.shape and echoes.dtype == np.complex64
    np.testing.assert_allclose(focus(echoes, MINISAR_LIKE, workers=1), band_limit(tile, MINISAR_LIKE, workers=1),
                               atol=1e-3 * np.abs(tile).max())


def test_split_from_real_images_uses_tiles_and_their_brightest_points(tmp_path):
    from restorebench.files import load_npz
    from restorebench.experiments.sar_rfi import Geometry, make_split_from_images

    rng = np.random.default_rng(3)
    folder = tmp_path / "sandia"
    folder.mkdir()
    for k in range(2):
        # range x azimuth speckle with one very bright point per file
        pixels = ((rng.standard_normal((128, 192)) + 1j * rng.standard_normal((128, 192))) / 2).astype(np.complex64)
        pixels[40, 100] = 200.0
        write_sicd(folder / f"image{k}.nitf", pixels)
    geometry = Geometry(azimuth=64, range=64, n_fft=16, hop=4)
    kinds = ("narrowband", "chirp")
    make_split_from_images("train", "minisar-like", folder, ["*.nitf"], 7, geometry, (-10, -5), kinds, 0,
                           tmp_path / "train.npz", other_split_scenes=5)
    make_split_from_images("test-same", "minisar-like", folder, ["*.nitf"], 5, geometry, (-10, -5), kinds, 0,
                           tmp_path / "test.npz", other_split_scenes=7)
    # 12 tiles hold 7 + 5 but not 7 + 6: no tile is ever in both splits
    with pytest.raises(ValueError, match=r"sandia: 12 tiles of 64x64 in 2 files, 13 needed"):
        make_split_from_images("test-same", "minisar-like", folder, ["*.nitf"], 6, geometry, (-10, -5), kinds, 0,
                               tmp_path / "bad.npz", other_split_scenes=7)
    assert not (tmp_path / "bad.npz").exists()
    train, test = load_npz(tmp_path / "train.npz"), load_npz(tmp_path / "test.npz")
    assert train["echoes"].shape == (7, 64, 64) and test["echoes"].shape == (5, 64, 64)
    assert str(train["meta_source"]) == "real"
    assert np.all((train["sir_db"] >= -10) & (train["sir_db"] <= -5))
    # 2 files x (192/64 azimuth) x (128/64 range) = 12 tiles, all used, none twice
    tiles = [focus(e, MINISAR_LIKE) for e in np.concatenate([train["echoes"], test["echoes"]])]
    assert not any(np.allclose(tiles[i], tiles[j]) for i in range(12) for j in range(i))
    # a tile holding the bright point records it as its strongest scatterer (azimuth 100, range 40 -> tile
    # (64..127, 0..63) at (36, 40))
    focused = [focus(e, MINISAR_LIKE) for e in np.concatenate([train["echoes"], test["echoes"]])]
    points = np.concatenate([train["scatterers"], test["scatterers"]])
    bright = [i for i, img in enumerate(focused) if np.abs(img).max() > 20]
    assert bright and all(tuple(points[i][0]) == (36, 40) for i in bright)


def test_split_from_an_empty_folder_says_what_to_place(tmp_path):
    from restorebench.experiments.sar_rfi import Geometry, make_split_from_images

    with pytest.raises(FileNotFoundError, match="no complex SAR images"):
        make_split_from_images("train", "minisar-like", tmp_path, ["*.nitf"], 1, Geometry(64, 64, 16, 4),
                               (-10, -5), ("chirp",), 0, tmp_path / "x.npz")
