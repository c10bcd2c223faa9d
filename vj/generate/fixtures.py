"""Tiny random models: test fixtures, not models.

They are built from configs with the same diffusers/transformers classes as sd-turbo and
sdxl-turbo (UNet2DConditionModel, AutoencoderKL with an 8x downscale, CLIP text towers,
CLIPTokenizer, EulerDiscreteScheduler with trailing timesteps), so every code path of the real
loop runs, in milliseconds on a CPU, with no download. Their weights are random (seeded), so
their images are abstract noise patterns, never pictures: whatever shows them says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

_TOKENIZER_DIR = Path(__file__).resolve().parent / "tiny_tokenizer"
FIXTURE_SEED = 20261124  # the fixture's weights are the same in every run and on every machine


def _tokenizer():
    from transformers import CLIPTokenizer

    _TOKENIZER_DIR.mkdir(exist_ok=True)
    vocab_path, merges_path = _TOKENIZER_DIR / "vocab.json", _TOKENIZER_DIR / "merges.txt"
    if not vocab_path.exists():  # shipped in the repo; rebuilt here only if someone deleted it
        vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
        for c in "abcdefghijklmnopqrstuvwxyz0123456789":
            vocab[c] = len(vocab)
            vocab[c + "</w>"] = len(vocab)
        vocab_path.write_text(json.dumps(vocab))
        merges_path.write_text("#version: 0.2\n")
    return CLIPTokenizer(str(vocab_path), str(merges_path), model_max_length=77)


def _scheduler():
    from diffusers import EulerDiscreteScheduler

    # sd-turbo's and sdxl-turbo's scheduler settings
    return EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                  timestep_spacing="trailing", steps_offset=1, prediction_type="epsilon")


def _vae():
    from diffusers import AutoencoderKL

    # Four blocks: the real 8x downscale, with few channels.
    return AutoencoderKL(block_out_channels=(8, 16, 32, 32), layers_per_block=1, latent_channels=4, norm_num_groups=8,
                         down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                         sample_size=128, scaling_factor=0.18215)


def _text_config(vocab_size: int, **kw):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                          num_attention_heads=4, bos_token_id=0, eos_token_id=1, pad_token_id=1,
                          max_position_embeddings=77, **kw)


def tiny_sd():
    """A StableDiffusionPipeline shaped like sd-turbo (SD 2.1 family), random weights."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(FIXTURE_SEED)
    tok = _tokenizer()
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=8, norm_num_groups=16, use_linear_projection=True)
    return StableDiffusionPipeline(vae=_vae(), text_encoder=CLIPTextModel(_text_config(len(tok))), tokenizer=tok,
                                   unet=unet, scheduler=_scheduler(), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def tiny_sdxl():
    """A StableDiffusionXLPipeline shaped like sdxl-turbo (two text towers, pooled + time-id conditioning)."""
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(FIXTURE_SEED)
    tok = _tokenizer()
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
                                use_linear_projection=True, addition_embed_type="text_time",
                                addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
                                projection_class_embeddings_input_dim=80,  # 6 time ids * 8 + pooled 32
                                cross_attention_dim=64, norm_num_groups=16)
    return StableDiffusionXLPipeline(vae=_vae(), text_encoder=CLIPTextModel(_text_config(len(tok))),
                                     text_encoder_2=CLIPTextModelWithProjection(_text_config(len(tok), projection_dim=32)),
                                     tokenizer=tok, tokenizer_2=tok, unet=unet, scheduler=_scheduler())


def from_architecture(path: Path, family: str):
    """A pipeline with a real model's shapes (generate/configs/<name>.json), random weights.
    Building sd-turbo's 1.3 billion parameters takes some seconds; nothing is downloaded."""
    import diffusers
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = json.loads(path.read_text())
    torch.manual_seed(FIXTURE_SEED)
    tok = _tokenizer()  # a stand-in: speed depends on the sequence length (77), not on the words
    ids = dict(bos_token_id=0, eos_token_id=1, pad_token_id=1)
    unet = UNet2DConditionModel(**cfg["unet"])
    vae = AutoencoderKL(**cfg["vae"])
    sched_cfg = dict(cfg["scheduler"])
    sched = getattr(diffusers, sched_cfg.pop("_class_name", "EulerDiscreteScheduler"))(**sched_cfg)
    if family == "sdxl":
        from diffusers import StableDiffusionXLPipeline

        te = CLIPTextModel(CLIPTextConfig(**cfg["text_encoder"], **ids))
        te2 = CLIPTextModelWithProjection(CLIPTextConfig(**cfg["text_encoder_2"], **ids))
        return StableDiffusionXLPipeline(vae=vae, text_encoder=te, text_encoder_2=te2, tokenizer=tok, tokenizer_2=tok,
                                         unet=unet, scheduler=sched)
    from diffusers import StableDiffusionPipeline

    te = CLIPTextModel(CLIPTextConfig(**cfg["text_encoder"], **ids))
    return StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def tiny_lora(path: Path, pipe, seed: int = 5, rank: int = 4, text_encoder: bool = False) -> Path:
    """A LoRA file for a tiny random pipeline's UNet (attention projections, random up and down
    weights, so that it visibly changes the picture), written as diffusers writes LoRAs:
    <path>/pytorch_lora_weights.safetensors. The pipeline is left as it was. With text_encoder,
    the file also carries layers for the text encoder (which démontage leaves out)."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    cfg = LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=False,
                     target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    unet = pipe.unet
    unet.add_adapter(cfg, adapter_name="made")
    layers = {"unet_lora_layers": get_peft_model_state_dict(unet, adapter_name="made")}
    unet.delete_adapters("made")
    if text_encoder:
        from peft import get_peft_model

        te = get_peft_model(pipe.text_encoder, LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=False,
                                                          target_modules=["q_proj", "v_proj"]), adapter_name="made")
        layers["text_encoder_lora_layers"] = get_peft_model_state_dict(te, adapter_name="made")
        pipe.text_encoder = te.unload()
    type(pipe).save_lora_weights(str(path), **layers)
    return path / "pytorch_lora_weights.safetensors"


def tiny_controlnet(path: Path, pipe, seed: int = 11, conditioning_channels: int = 3) -> Path:
    """A ControlNet for a tiny random pipeline (diffusers' from_unet, as its training script makes
    one), its zero convolutions given random weights so that it visibly steers, written with
    save_pretrained to `path` (read back by ControlNetModel.from_pretrained, as a downloaded one is)."""
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    net = ControlNetModel.from_unet(pipe.unet, conditioning_channels=conditioning_channels)
    with torch.no_grad():
        for conv in list(net.controlnet_down_blocks) + [net.controlnet_mid_block]:
            conv.weight.normal_(0, 0.3)
            conv.bias.normal_(0, 0.05)
        net.controlnet_cond_embedding.conv_out.weight.normal_(0, 0.2)
    net.save_pretrained(path)
    return path


def tiny_depth(path: Path, seed: int = 5) -> Path:
    """A depth network of Depth Anything's architecture (a DINOv2 backbone, a DPT head), tiny and
    random, written with save_pretrained to `path` (read back by transformers'
    AutoModelForDepthEstimation, as a downloaded Depth Anything V2 Small is)."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    torch.manual_seed(seed)
    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                            patch_size=14, image_size=56, out_indices=[1, 2, 3, 4], reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32],
                              fusion_hidden_size=16, head_hidden_size=8)
    net = DepthAnythingForDepthEstimation(cfg)
    with torch.no_grad():  # its last convolution lifted over the ReLU, so that a random one draws a map
        net.head.conv3.weight.normal_(0, 0.5)
        net.head.conv3.bias.fill_(1.0)
    net.save_pretrained(path)
    return path


def tiny_ip_adapter(path: Path, pipe, seed: int = 13) -> Path:
    """An IP-Adapter for a tiny random pipeline, laid out as h94/IP-Adapter lays one out: <path>/
    ip-adapter.safetensors (image_proj.* and ip_adapter.<n>.to_k_ip/to_v_ip.* for each
    cross-attention layer, numbered as diffusers numbers them) and <path>/image_encoder/ (a tiny
    CLIPVisionModelWithProjection, save_pretrained). Read back by the pipeline's load_ip_adapter."""
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    enc_cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=37, projection_dim=32, num_hidden_layers=2,
                               num_attention_heads=4, image_size=32, patch_size=8)
    CLIPVisionModelWithProjection(enc_cfg).save_pretrained(path / "image_encoder")
    unet = pipe.unet
    dim = unet.config.cross_attention_dim
    tokens = 4
    state = {"image_proj.proj.weight": torch.randn(tokens * dim, enc_cfg.projection_dim) * 0.3,
             "image_proj.proj.bias": torch.zeros(tokens * dim),
             "image_proj.norm.weight": torch.ones(dim), "image_proj.norm.bias": torch.zeros(dim)}
    key = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        block = name.split(".")
        width = unet.config.block_out_channels[-1] if block[0] == "mid_block" else (
            list(reversed(unet.config.block_out_channels))[int(block[1])] if block[0] == "up_blocks"
            else unet.config.block_out_channels[int(block[1])])
        state[f"ip_adapter.{key}.to_k_ip.weight"] = torch.randn(width, dim) * 0.3
        state[f"ip_adapter.{key}.to_v_ip.weight"] = torch.randn(width, dim) * 0.3
        key += 2
    save_file({k: v.contiguous() for k, v in state.items()}, str(path / "ip-adapter.safetensors"))
    return path
