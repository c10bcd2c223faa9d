"""Model loading: the real diffusers loading code, fed from a local folder (no network here)."""

import numpy as np
import pytest
import torch

from vj.core.errors import ModelLoadError
from vj.generate import registry
from vj.generate.loop import StreamLoop
from vj.core.snapshot import Snapshot


def test_registry_names():
    assert registry.resolve("sd-turbo").source == "stabilityai/sd-turbo"
    assert registry.resolve("sdxl-turbo").family == "sdxl"
    t = registry.resolve("tiny-random")
    assert t.fixture and "test fixture" in t.label


def test_unknown_model_names_the_alternatives():
    with pytest.raises(ModelLoadError, match=r"model 'sd-turbbo' is unknown \(did you mean 'sd-turbo'\?\).*seedling "
                                             r"\(built in.*dcgan-faces.*sd-turbo, sdxl-turbo, sd15, sd15-lcm.*tiny-random"):
        registry.resolve("sd-turbbo")


def test_a_hub_model_that_is_not_cached_fails_at_once_with_alternatives(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = registry.resolve("stabilityai/sd-turbo")
    with pytest.raises(ModelLoadError, match=r"can't be loaded: .*local Hugging Face cache.*needs nothing: seedling "
                                             r"\(built in.*or dcgan-faces"):
        registry.load(spec, torch.device("cpu"), torch.float32)


def test_a_folder_without_model_index_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="no model_index.json"):
        registry.resolve(str(tmp_path))


def test_a_local_diffusers_folder_loads_through_from_pretrained(tmp_path, tiny_xl_model):
    tiny_xl_model.pipe.save_pretrained(tmp_path / "m")
    spec = registry.resolve(str(tmp_path / "m"))
    assert spec.family == "sdxl" and not spec.fixture
    m = registry.load(spec, torch.device("cpu"), torch.float32)
    assert type(m.pipe).__name__ == "StableDiffusionXLPipeline"
    loop = StreamLoop(m, (128, 128), 1, seed=1)
    px = loop.frame(Snapshot(0, 0.0, {}, ("a cathedral",), 1))
    ref = StreamLoop(tiny_xl_model, (128, 128), 1, seed=1).frame(Snapshot(0, 0.0, {}, ("a cathedral",), 1))
    assert np.abs(px.astype(int) - ref).max() <= 2, np.abs(px.astype(int) - ref).max()  # same weights, same frame


def _cached(repo: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo, "model_index.json"), str)
    except Exception:
        return False


@pytest.mark.weights
@pytest.mark.skipif(not _cached("stabilityai/sd-turbo"), reason="sd-turbo is not in the local Hugging Face cache")
def test_sd_turbo_real_weights_make_a_picture():
    from vj.generate import device

    dev, dtype = device.pick()
    m = registry.load(registry.resolve("sd-turbo"), dev, dtype)
    px = StreamLoop(m, (512, 512), 1, seed=1).frame(Snapshot(0, 0.0, {}, ("a red apple on a table",), 1))
    assert px.shape == (512, 512, 3) and px.std() > 10


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_fp16_on_cuda_makes_finite_frames():
    m = registry.load(registry.resolve("tiny-random"), torch.device("cuda"), torch.float16)
    px = StreamLoop(m, (128, 128), 2, seed=1).frame(Snapshot(0, 0.0, {}, ("a cathedral",), 1))
    assert px.shape == (128, 128, 3) and px.std() > 1


def test_random_models_have_the_real_architecture():
    """random:sd-turbo is built from the shipped config: the parameter counts of sd-turbo's UNet
    (SD 2.1: 865,910,724), its VAE (83,653,863) and its OpenCLIP ViT-H text tower (340,387,840)."""
    spec = registry.resolve("random:sd-turbo")
    assert spec.family == "sd" and spec.native_size == (512, 512) and "real architecture" in spec.label
    m = registry.load(spec, torch.device("cpu"), torch.float32)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert (count(m.unet), count(m.vae), count(m.pipe.text_encoder)) == (865_910_724, 83_653_863, 340_387_840)
    assert registry.resolve("random:sdxl-turbo").family == "sdxl"
    with pytest.raises(ModelLoadError, match=r"random:sd-turbo, random:sd15, random:sd15-lcm, random:sdxl-turbo"):
        registry.resolve("random:sd-turbbo")


def test_the_tiny_autoencoder_decodes_the_same_latents(tiny_model):
    tiny = registry.load(registry.resolve("tiny-random"), torch.device("cpu"), torch.float32, tiny_vae=True)
    assert type(tiny.tiny_vae).__name__ == "AutoencoderTiny"
    snap = Snapshot(0, 0.0, {"noise.kick": 0.0}, ("a field",), 3)
    seen: dict[str, list] = {"vae": [], "taesd": []}

    def spy(module, key):
        real = module.decode

        def decode(z, return_dict=False):
            seen[key].append(z.clone())
            out = real(z, return_dict=return_dict)
            seen[key].append(out[0].clone())
            return out
        module.decode = decode

    spy(tiny_model.vae, "vae")
    spy(tiny.tiny_vae, "taesd")
    spy(tiny.vae, "vae")
    try:
        a = StreamLoop(tiny_model, (128, 128), 1, 3).frame(snap)
        b = StreamLoop(tiny, (128, 128), 1, 3).frame(snap)
    finally:
        for module in (tiny_model.vae, tiny.tiny_vae, tiny.vae):
            del module.decode  # the class's own again
    (z_full, img_full), (z_tiny, img_tiny) = seen["vae"], seen["taesd"]  # each decoder once, the full one not twice
    scaling = tiny_model.vae.config.scaling_factor
    assert torch.allclose(z_full * scaling, z_tiny, atol=1e-5)  # the same latents (TAESD reads them scaled)
    as_frame = lambda img: (img[0].permute(1, 2, 0).float() / 2 + 0.5).clamp(0, 1)  # noqa: E731
    assert np.abs(a / 255.0 - as_frame(img_full).numpy()).max() <= 1 / 255 + 1e-6  # each frame is its decoder's
    assert np.abs(b / 255.0 - as_frame(img_tiny).numpy()).max() <= 1 / 255 + 1e-6
    assert a.shape == b.shape == (128, 128, 3) and b.std() > 0
    assert not np.array_equal(a, b)  # another decoder: another picture of the same latents
