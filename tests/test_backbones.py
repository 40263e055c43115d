"""Every Hugging Face backbone family: a tiny random checkpoint saved with save_pretrained loads
through the zoo like a hub id, gives features of the documented shapes, and equals a direct call
of the transformers model with independently written preprocessing (within 1e-5)."""
import json
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import transformers
from scivid.core import ScividError
from scivid.backbones import embed
from scivid.zoo import BACKBONES, load_backbone
from scivid.hf_backbones import (HF_FAMILIES, IMAGENET_MEAN, IMAGENET_STD, TINY_MODELS, load_hf_backbone,
                                 processor_settings, save_tiny_model)

# model_type -> (class, call, video?, special tokens) written out here, independently of HF_FAMILIES
DIRECT = {
    'videomae': (transformers.VideoMAEModel, lambda m, x: m(pixel_values=x), True, 0),
    'vjepa2': (transformers.VJEPA2Model, lambda m, x: m(pixel_values_videos=x, skip_predictor=True), True, 0),
    'videoprism_vision_model': (transformers.VideoPrismVisionModel, lambda m, x: m(pixel_values_videos=x), True, 0),
    'dinov2': (transformers.Dinov2Model, lambda m, x: m(pixel_values=x), False, 1),
    'dinov3_vit': (transformers.DINOv3ViTModel, lambda m, x: m(pixel_values=x), False, 3),  # CLS + 2 registers
}
TUBELET = {'videomae': 2, 'vjepa2': 2, 'videoprism_vision_model': 1}


def reference(model_type, path, video):
    "Features by hand: resize, normalise, resample time, call the model, reshape, map steps back to frames."
    cls, call, is_video, prefix = DIRECT[model_type]
    model = cls.from_pretrained(path).eval()
    proc = json.loads(next(p for p in path.iterdir() if p.name.endswith('preprocessor_config.json')).read_text())
    h, w = (proc.get('crop_size') if proc.get('do_center_crop', True) and 'crop_size' in proc else proc['size']).values()
    mean, std = (0., 1.) if model_type.startswith('videoprism') else (torch.tensor(proc['image_mean']), torch.tensor(proc['image_std']))
    B, T = video.shape[:2]
    x = torch.from_numpy(video).flatten(0, 1).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(h, w), mode='bilinear', align_corners=False, antialias=True)
    x = ((x - (mean.view(1, 3, 1, 1) if torch.is_tensor(mean) else mean)) /
         (std.view(1, 3, 1, 1) if torch.is_tensor(std) else std)).reshape(B, T, 3, h, w)
    cfg = model.config
    patch = cfg.tubelet_size[1] if model_type.startswith('videoprism') else cfg.patch_size
    gh, gw = h // patch, w // patch
    with torch.no_grad():
        if is_video:
            frames = getattr(cfg, 'num_frames', None) or cfg.frames_per_clip
            x = x[:, [k * T // frames for k in range(frames)]]
            tokens = call(model, x).last_hidden_state.numpy()
            grid = tokens.reshape(B, frames // TUBELET[model_type], gh, gw, -1)
        else:
            tokens = call(model, x.flatten(0, 1)).last_hidden_state.numpy()[:, prefix:]
            grid = tokens.reshape(B, T, gh, gw, -1)
    t = grid.shape[1]
    return grid[:, [i * t // T for i in range(T)]]


@pytest.mark.parametrize('model_type', sorted(DIRECT))
@pytest.mark.parametrize('clip_shape', [(2, 8, 40, 40), (1, 5, 24, 30)])
def test_tiny_backbone_matches_transformers(tmp_path, model_type, clip_shape):
    path = save_tiny_model(model_type, tmp_path / model_type)
    backbone = load_backbone(str(path), offline=True, batch_size=1)  # the same path as a hub id
    video = np.random.default_rng(0).random((*clip_shape, 3), dtype=np.float32)
    out = embed(backbone, video)
    gh, gw = backbone.grid
    B, T = clip_shape[:2]
    assert out['grid_features'].shape == (B, T, gh, gw, 32)
    assert out['features'].shape == (B, T, gh * gw, 32)
    assert out['features'].dtype == np.float32
    ref = reference(model_type, path, video)
    np.testing.assert_allclose(out['grid_features'], ref, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(out['features'], out['grid_features'].reshape(B, T, gh * gw, 32))


def test_videoprism_video_text_checkpoint(tmp_path):
    "Video-text VideoPrism checkpoints (model_type 'videoprism') run their video encoder only."
    vision = TINY_MODELS['videoprism_vision_model'][0]().to_dict()
    config = transformers.VideoPrismConfig(vision_config=vision, text_config=dict(
        vocab_size=64, hidden_size=32, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2))
    torch.manual_seed(0)
    clip_model = transformers.VideoPrismClipModel(config).eval()
    clip_model.save_pretrained(tmp_path / 'vp')
    backbone = load_backbone(str(tmp_path / 'vp'), offline=True)
    assert backbone.model_type == 'videoprism' and backbone.std == (1., 1., 1.)
    video = np.random.default_rng(1).random((1, 4, 36, 36, 3), dtype=np.float32)
    with torch.no_grad():
        ref = clip_model.video_model.vision_model(pixel_values_videos=torch.from_numpy(video).permute(0, 1, 4, 2, 3))
    np.testing.assert_allclose(embed(backbone, video)['features'],
                               ref.last_hidden_state.numpy().reshape(1, 4, 16, 32), atol=1e-5)


def test_dinov2_with_registers(tmp_path):
    config = transformers.Dinov2WithRegistersConfig(image_size=28, patch_size=7, hidden_size=32, num_hidden_layers=1,
                                                    num_attention_heads=2, mlp_ratio=2, num_register_tokens=4)
    model = transformers.Dinov2WithRegistersModel(config).eval()
    model.save_pretrained(tmp_path / 'd')
    backbone = load_backbone(str(tmp_path / 'd'), offline=True)
    assert backbone.prefix == 5
    video = np.random.default_rng(2).random((1, 3, 28, 28, 3), dtype=np.float32)
    px = (video - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)  # no processor: ImageNet
    with torch.no_grad():
        ref = model(pixel_values=torch.from_numpy(px[0]).permute(0, 3, 1, 2)).last_hidden_state[:, 5:].numpy()
    np.testing.assert_allclose(embed(backbone, video)['features'][0], ref, atol=1e-5)


def test_videomae_base_geometry(tmp_path):
    "VideoMAE-B facts: 16 frames, 224x224, tubelet 2, patch 16, width 768 -> 8x14x14x768, repeated to 16 frames."
    config = transformers.VideoMAEConfig(num_hidden_layers=1, intermediate_size=64, use_mean_pooling=False)  # base geometry, 1 small layer
    assert (config.num_frames, config.image_size, config.patch_size, config.tubelet_size, config.hidden_size) == \
        (16, 224, 16, 2, 768)
    transformers.VideoMAEModel(config).save_pretrained(tmp_path / 'vmb')
    proc = {'crop_size': {'height': 224, 'width': 224}, 'do_center_crop': True, 'size': {'shortest_edge': 224},
            'image_mean': list(IMAGENET_MEAN), 'image_std': list(IMAGENET_STD)}
    (tmp_path / 'vmb' / 'preprocessor_config.json').write_text(json.dumps(proc))
    backbone = load_backbone(str(tmp_path / 'vmb'), offline=True)
    assert (backbone.num_frames, backbone.size, backbone.grid) == (16, (224, 224), (14, 14))
    out = embed(backbone, np.random.default_rng(0).random((1, 16, 224, 224, 3), dtype=np.float32))
    assert out['grid_features'].shape == (1, 16, 14, 14, 768)
    np.testing.assert_array_equal(out['grid_features'][:, 0::2], out['grid_features'][:, 1::2])  # 8 steps, repeated


def test_registry_entries():
    assert BACKBONES['videomae-base'][1] == 'MCG-NJU/videomae-base'
    for name, (loader, hub_id) in BACKBONES.items():
        assert callable(loader) and (hub_id is None) == (name in ('resize', 'flow'))
    assert processor_settings({'do_normalize': False, 'size': {'height': 288, 'width': 288}})['size'] == (288, 288)


@pytest.mark.parametrize('spec', ['videomae-base', 'dinov3-small', 'someone/not-a-model'])
def test_missing_model_is_a_clear_error(monkeypatch, spec):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')  # no network here: fail fast, as a downloadless machine would
    with pytest.raises(ScividError) as e:
        load_backbone(spec)
    msg = str(e.value)
    hub_id = BACKBONES[spec][1] if spec in BACKBONES else spec
    assert repr(hub_id) in msg and 'could not be found' in msg and 'save_pretrained' in msg and 'network' in msg
    assert e.value.__cause__ is None and '\n' not in msg


def test_stale_preprocessing_changes_identity(tmp_path):
    path = save_tiny_model('vjepa2', tmp_path / 'vj')
    a = load_hf_backbone(path, offline=True).describe()
    b = load_hf_backbone(path, offline=True, num_frames=4).describe()
    assert a['num_frames'] == 8 and b['num_frames'] == 4 and a != b



def test_mini_scivid_run_with_tiny_hf_backbone(tmp_path, request, monkeypatch):
    """End to end: a mini-SciVid Fly-vs-Fly run on a tiny VideoMAE folder through the feature cache gives
    the same metrics as the same run decoding and encoding on the fly, and the control's mAP is the
    mean positive rate of the val labels (each class's AP under constant scores)."""
    from scivid.run import RunConfig, run
    from scivid.datasets import open_split
    mini_root = request.getfixturevalue('mini_root')
    monkeypatch.setenv('SCIVID_CACHE_DIR', str(tmp_path / 'cache'))  # feature caches of this throwaway model
    tiny = save_tiny_model('videomae', tmp_path / 'tiny-videomae')
    metrics = {}
    for cache in (True, False):
        result = run(RunConfig(task='flyvsfly', backbone=str(tiny), data_dir=str(mini_root), out_dir=str(tmp_path / f'run{cache}'),
                               examples=64, batch_size=16, readouts=('linear',), splits=('val',), eval_every=4,
                               cache=cache, cache_dtype='float32', progress=False))  # float32: exactly as computed
        metrics[cache] = result.evaluations['val'].metrics
    assert metrics[True]['linear']['mAP'] == pytest.approx(metrics[False]['linear']['mAP'], rel=1e-4), metrics
    val = open_split('flyvsfly', 'val', mini_root)
    positive = np.array([np.isin(np.arange(7), val[i]['labels']) for i in range(len(val))])  # multi-hot [N, 7]
    assert metrics[True]['control']['mAP'] == pytest.approx(positive[:, :6].mean(), abs=1e-9)
    stores = sorted(p.name for p in (tmp_path / 'cache' / 'features').iterdir() if p.suffix == '.zarr')
    assert len(stores) == 2 and all(s.startswith('flyvsfly-') for s in stores), stores  # train and val caches
