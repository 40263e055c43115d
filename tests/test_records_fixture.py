"""Cross-check scivid's hand-written protobuf codec against the `protobuf` package.

The reference encoder below is built from a FileDescriptorProto that declares TensorFlow's
messages (tf.train.SequenceExample and friends, TensorProto) with TensorFlow's field numbers,
so it shares no code with scivid.protobuf. Records written with it into ArrayRecord shards
named and placed as in the SciVid release must be read back by `open_split`.
"""
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from array_record.python.array_record_module import ArrayRecordWriter
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from scivid.protobuf import decode_sequence_example, encode_sequence_example, decode_tensor, encode_tensor
from scivid.datasets import open_split

F = descriptor_pb2.FieldDescriptorProto
REPEATED, OPTIONAL = F.LABEL_REPEATED, F.LABEL_OPTIONAL
DT = {'DT_INVALID': 0, 'DT_FLOAT': 1, 'DT_DOUBLE': 2, 'DT_INT32': 3, 'DT_UINT8': 4, 'DT_INT16': 5, 'DT_INT8': 6,
      'DT_STRING': 7, 'DT_COMPLEX64': 8, 'DT_INT64': 9, 'DT_BOOL': 10, 'DT_UINT16': 17, 'DT_HALF': 19}


def _field(msg, name, number, ftype, label=OPTIONAL, type_name=None, packed=None, oneof=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name: f.type_name = type_name
    if packed is not None: f.options.packed = packed
    if oneof is not None: f.oneof_index = oneof
    return f


def _map(pkg, msg, name, value_type):
    "Declare `map<string, value_type> name = 1` as protoc does (a nested *Entry message)."
    entry = msg.nested_type.add(name=''.join(p.title() for p in name.split('_')) + 'Entry')
    entry.options.map_entry = True
    _field(entry, 'key', 1, F.TYPE_STRING)
    _field(entry, 'value', 2, F.TYPE_MESSAGE, type_name=value_type)
    _field(msg, name, 1, F.TYPE_MESSAGE, REPEATED, f'.{pkg}.{msg.name}.{entry.name}')



def build_messages(packed: bool) -> dict:
    "Message classes for TensorFlow's example.proto / feature.proto / tensor.proto subset."
    pkg = 'tensorflow' + ('' if packed else '_unpacked')
    fd = descriptor_pb2.FileDescriptorProto(name=f'{pkg}_subset.proto', package=pkg, syntax='proto3')
    T = lambda n: f'.{pkg}.{n}'
    m = fd.message_type.add(name='BytesList'); _field(m, 'value', 1, F.TYPE_BYTES, REPEATED)
    m = fd.message_type.add(name='FloatList'); _field(m, 'value', 1, F.TYPE_FLOAT, REPEATED, packed=packed)
    m = fd.message_type.add(name='Int64List'); _field(m, 'value', 1, F.TYPE_INT64, REPEATED, packed=packed)
    m = fd.message_type.add(name='Feature'); m.oneof_decl.add(name='kind')
    _field(m, 'bytes_list', 1, F.TYPE_MESSAGE, type_name=T('BytesList'), oneof=0)
    _field(m, 'float_list', 2, F.TYPE_MESSAGE, type_name=T('FloatList'), oneof=0)
    _field(m, 'int64_list', 3, F.TYPE_MESSAGE, type_name=T('Int64List'), oneof=0)
    m = fd.message_type.add(name='Features'); _map(pkg, m, 'feature', T('Feature'))
    m = fd.message_type.add(name='FeatureList'); _field(m, 'feature', 1, F.TYPE_MESSAGE, REPEATED, T('Feature'))
    m = fd.message_type.add(name='FeatureLists'); _map(pkg, m, 'feature_list', T('FeatureList'))
    m = fd.message_type.add(name='SequenceExample')
    _field(m, 'context', 1, F.TYPE_MESSAGE, type_name=T('Features'))
    _field(m, 'feature_lists', 2, F.TYPE_MESSAGE, type_name=T('FeatureLists'))
    e = fd.enum_type.add(name='DataType')
    for k, v in DT.items(): e.value.add(name=k, number=v)
    m = fd.message_type.add(name='TensorShapeProto')
    d = m.nested_type.add(name='Dim'); _field(d, 'size', 1, F.TYPE_INT64); _field(d, 'name', 2, F.TYPE_STRING)
    _field(m, 'dim', 2, F.TYPE_MESSAGE, REPEATED, T('TensorShapeProto.Dim'))
    _field(m, 'unknown_rank', 3, F.TYPE_BOOL)
    m = fd.message_type.add(name='TensorProto')
    _field(m, 'dtype', 1, F.TYPE_ENUM, type_name=T('DataType'))
    _field(m, 'tensor_shape', 2, F.TYPE_MESSAGE, type_name=T('TensorShapeProto'))
    _field(m, 'version_number', 3, F.TYPE_INT32)
    _field(m, 'tensor_content', 4, F.TYPE_BYTES)
    for name, num, t in [('half_val', 13, F.TYPE_INT32), ('float_val', 5, F.TYPE_FLOAT), ('double_val', 6, F.TYPE_DOUBLE),
                         ('int_val', 7, F.TYPE_INT32), ('scomplex_val', 9, F.TYPE_FLOAT), ('int64_val', 10, F.TYPE_INT64),
                         ('bool_val', 11, F.TYPE_BOOL), ('dcomplex_val', 12, F.TYPE_DOUBLE)]:
        _field(m, name, num, t, REPEATED, packed=packed)
    _field(m, 'string_val', 8, F.TYPE_BYTES, REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    names = ['Feature', 'SequenceExample', 'TensorProto']
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f'{pkg}.{n}')) for n in names}


PB = build_messages(packed=True)
PB_UNPACKED = build_messages(packed=False)


# ---------------------------------------------------------------- reference encoder helpers
def set_feature(feat, value):
    if isinstance(value, list): feat.bytes_list.value.extend(value)
    elif np.asarray(value).dtype.kind == 'f': feat.float_list.value.extend(np.asarray(value, np.float32).tolist())
    else: feat.int64_list.value.extend(np.asarray(value, np.int64).tolist())
    if isinstance(value, list) and not value: feat.bytes_list.SetInParent()
    elif np.size(value) == 0 and np.asarray(value).dtype.kind == 'f': feat.float_list.SetInParent()
    elif np.size(value) == 0: feat.int64_list.SetInParent()


def reference_sequence_example(context: dict, sequence: dict, pb=PB) -> bytes:
    ex = pb['SequenceExample']()
    for k, v in context.items(): set_feature(ex.context.feature[k], v)
    for k, steps in sequence.items():
        fl = ex.feature_lists.feature_list[k]
        for s in steps: set_feature(fl.feature.add(), s)
    return ex.SerializeToString()


def feature_value(feat):
    kind = feat.WhichOneof('kind')
    if kind == 'bytes_list': return list(feat.bytes_list.value)
    if kind == 'float_list': return np.array(feat.float_list.value, np.float32)
    if kind == 'int64_list': return np.array(feat.int64_list.value, np.int64)
    return []


def assert_value_equal(a, b):
    if isinstance(b, list):
        assert isinstance(a, list) and a == b
    else:
        b = np.asarray(b)
        assert isinstance(a, np.ndarray) and a.dtype == (np.float32 if b.dtype.kind == 'f' else np.int64)
        np.testing.assert_array_equal(a, b.astype(a.dtype))


def sample_content(rng):
    context = {'clip/label/index': np.array([0, 6, -1, -2**63, 2**63 - 1, 300]),
               'key_': [b'201801', b'', bytes(range(256))],
               'startir/object/keypoint/x': rng.random(7).astype(np.float32),
               'duration': np.array([np.inf, -0.0, 1e-40], np.float32),
               'empty_floats': np.zeros(0, np.float32), 'empty_ints': np.zeros(0, np.int64), 'empty_bytes': []}
    sequence = {'image/encoded': [[rng.bytes(int(n))] for n in rng.integers(0, 3000, 5)],
                'image/infrared': [rng.uniform(170, 300, 4096).astype(np.float32) for _ in range(3)],
                'grade': [np.array([g]) for g in (-5, 0, 7)],
                'tracks/2d': [[rng.bytes(10)], []]}
    return context, sequence


# ---------------------------------------------------------------- (a), (b): SequenceExample
@pytest.mark.parametrize('pb', [PB, PB_UNPACKED], ids=['packed', 'unpacked'])
def test_reference_sequence_example_decodes_exactly(pb):
    context, sequence = sample_content(np.random.default_rng(0))
    ctx, seq = decode_sequence_example(reference_sequence_example(context, sequence, pb))
    assert set(ctx) == set(context) and set(seq) == set(sequence)
    for k, v in context.items(): assert_value_equal(ctx[k], v)
    for k, steps in sequence.items():
        assert len(seq[k]) == len(steps)
        for a, b in zip(seq[k], steps): assert_value_equal(a, b)


def test_unpacked_encoding_really_differs():
    "Guard: the unpacked reference must produce other bytes, or the test above proves nothing."
    c = {'x': np.array([1.0, 2.0], np.float32), 'i': np.array([1, 2])}
    assert reference_sequence_example(c, {}, PB) != reference_sequence_example(c, {}, PB_UNPACKED)


def test_our_sequence_example_parses_with_protobuf():
    context, sequence = sample_content(np.random.default_rng(1))
    ex = PB['SequenceExample'].FromString(encode_sequence_example(context, sequence))
    assert set(ex.context.feature) == set(context)
    for k, v in context.items(): assert_value_equal(feature_value(ex.context.feature[k]), v)
    assert set(ex.feature_lists.feature_list) == set(sequence)
    for k, steps in sequence.items():
        feats = ex.feature_lists.feature_list[k].feature
        assert len(feats) == len(steps)
        for f, s in zip(feats, steps): assert_value_equal(feature_value(f), s)
    # and byte-identical to protobuf's own serialization of the same message
    assert PB['SequenceExample'].FromString(ex.SerializeToString()) == ex


def test_malformed_bytes_raise_value_error():
    data = reference_sequence_example(*sample_content(np.random.default_rng(2)))
    with pytest.raises(ValueError):
        decode_sequence_example(data[:len(data) // 2])


# ---------------------------------------------------------------- (c): TensorProto
def reference_tensor(array, form='content', pb=PB):
    a = np.asarray(array)
    t = pb['TensorProto'](dtype={np.float32: 1, np.float64: 2, np.int32: 3, np.int64: 9, np.bool_: 10,
                                 np.uint8: 4}[a.dtype.type])
    for d in a.shape: t.tensor_shape.dim.add(size=d)
    if form == 'content': t.tensor_content = a.astype(a.dtype.newbyteorder('<')).tobytes()
    else:
        field = {np.float32: 'float_val', np.float64: 'double_val', np.int32: 'int_val', np.uint8: 'int_val',
                 np.int64: 'int64_val', np.bool_: 'bool_val'}[a.dtype.type]
        getattr(t, field).extend(a.ravel().tolist() if form == 'vals' else a.ravel()[:1].tolist())
    return t.SerializeToString()


@pytest.mark.parametrize('pb', [PB, PB_UNPACKED], ids=['packed', 'unpacked'])
@pytest.mark.parametrize('form', ['content', 'vals'])
def test_reference_tensor_decodes_exactly(pb, form):
    rng = np.random.default_rng(3)
    for a in [rng.random((2048, 2), np.float32), (rng.random(2048) > 0.5).astype(np.float32),
              rng.normal(size=(3, 4)), np.array([-3, 7, -2**31], np.int32), np.array([[-2**63, 5]]),
              np.array([True, False, True]), np.arange(5, dtype=np.uint8), np.float32(2.5), np.zeros((0, 2), np.float32)]:
        out = decode_tensor(reference_tensor(a, form, pb))
        assert out.dtype == a.dtype and out.shape == a.shape
        np.testing.assert_array_equal(out, a)


def test_reference_tensor_short_vals_repeat_last():
    out = decode_tensor(reference_tensor(np.full((4, 2), 7.5, np.float32), form='first'))
    np.testing.assert_array_equal(out, np.full((4, 2), 7.5, np.float32))


def test_our_tensor_parses_with_protobuf():
    a = np.random.default_rng(4).random((2048, 2), np.float32)
    t = PB['TensorProto'].FromString(encode_tensor(a))
    assert t.dtype == 1 and [d.size for d in t.tensor_shape.dim] == [2048, 2]
    assert t.tensor_content == a.astype('<f4').tobytes()
    t = PB['TensorProto'].FromString(encode_tensor(np.array([-1, 2**40])))
    assert t.dtype == 9 and np.frombuffer(t.tensor_content, '<i8').tolist() == [-1, 2**40]


# ---------------------------------------------------------------- end to end: release layout
def jpeg(frame, fmt='JPEG'):
    frame = np.asarray(frame)
    if frame.ndim == 2 and fmt == 'JPEG': frame = np.stack([frame] * 3, -1)  # release: grey as 3-channel JPEG
    buf = io.BytesIO(); Image.fromarray(frame).save(buf, format=fmt, quality=95)
    return buf.getvalue()


def smooth_video(rng, t, h, w, c=None):
    yy, xx = np.mgrid[:h, :w]
    ph = rng.uniform(0, 6, (t, 1, 1))
    v = 128 + 90 * np.sin(xx / 9 + ph) * np.cos(yy / 11 + ph)
    v = v.astype(np.uint8)
    return v if c is None else np.stack([v, 255 - v, v // 2], -1)


def write_release_shards(root, relpath, records, num_shards):
    "Shards named and placed as in the release, written with ArrayRecordWriter directly."
    prefix = Path(root) / 'full' / relpath
    prefix.parent.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(records), num_shards + 1).astype(int)
    for s in range(num_shards):
        w = ArrayRecordWriter(f'{prefix}.array_record-{s:05d}-of-{num_shards:05d}', 'group_size:1')
        for r in records[bounds[s]:bounds[s + 1]]: w.write(r)
        w.close()


def assert_frames_close(frames, video, tol=10):
    got = frames.decode(np.arange(len(video)))
    want = video[..., None] if video.ndim == 3 else video
    assert got.shape == (len(video), *video.shape[1:3], 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 3
    assert np.abs(got.astype(int) - want.astype(int)).max() <= tol * 4


@pytest.mark.parametrize('dataset,split,relpath,shards', [
    ('flyvsfly', 'val', 'fly_vs_fly/val_fly_split_ids_shuffle', 3),
    ('calms21', 'slim_train', 'calms21_slim/calms21_train_split_ids_shuffle_scale05_downsample16', 2),
    ('calms21', 'test', 'calms21_slim/calms21_test_split_ids_shuffle_scale05', 2)])
def test_open_split_reads_reference_behaviour_records(tmp_path, dataset, split, relpath, shards):
    rng = np.random.default_rng(5)
    videos = [smooth_video(rng, 6, 36, 64) for _ in range(5)]
    labels = [rng.integers(0, 7, 1 + (i == 2)) for i in range(5)]  # the clip's label list: one class, two on record 2
    records = [reference_sequence_example({'clip/label/index': l}, {'image/encoded': [[jpeg(f)] for f in v]})
               for v, l in zip(videos, labels)]
    write_release_shards(tmp_path, relpath, records, shards)
    ds = open_split(dataset, split, tmp_path)
    assert len(ds) == 5 and len(ds.records.shards) == shards
    for i in range(5):
        ex = ds[i]
        np.testing.assert_array_equal(ex['labels'], labels[i]); assert ex['labels'].dtype == np.int64
        assert_frames_close(ex['frames'], videos[i])


def test_open_split_reads_reference_typhoon_records(tmp_path):
    rng = np.random.default_rng(6)
    seqs = []
    for k in range(4):
        t = 3 + k
        seqs.append({'key': str(201800 + k), 'infrared': rng.uniform(170, 300, (t, 16, 16)).astype(np.float32),
                     'pressure': rng.uniform(900, 1010, t).astype(np.float32), 'wind': rng.random(t).astype(np.float32),
                     'lat': rng.random(t).astype(np.float32), 'lon': rng.random(t).astype(np.float32),
                     **{n: rng.integers(1, 2023, t) for n in ('grade', 'year', 'month', 'day', 'hour')}})
    def record(s):
        seq = {'image/infrared': [f.ravel() for f in s['infrared']]}
        seq.update({n: [np.array([v], np.float32) for v in s[n]] for n in ('pressure', 'wind', 'lat', 'lon')})
        seq.update({n: [np.array([v]) for v in s[n]] for n in ('grade', 'year', 'month', 'day', 'hour')})
        return reference_sequence_example({'key_': [s['key'].encode()]}, seq)
    write_release_shards(tmp_path, 'digital_typhoon_slim/train_val_imsize_256_max_frames_32', [record(s) for s in seqs], 50)
    ds = open_split('typhoon', 'train_val', tmp_path)
    assert len(ds) == 4 and len(ds.records.shards) == 50
    for s, ex in zip(seqs, ds):
        assert set(ex) == set(s) and ex['key'] == s['key']
        for n in s:
            if n != 'key':
                np.testing.assert_array_equal(ex[n], s[n]); assert ex[n].dtype == s[n].dtype


def test_open_split_reads_reference_stir_and_movi_records(tmp_path):
    rng = np.random.default_rng(7)
    stir = []
    for v in range(3):
        p, q = 2 + v, 5 - v
        stir.append({'video': smooth_video(rng, 4 + v, 40, 48, 3), 'start': rng.random((p, 2), np.float32),
                     'end': rng.random((q, 2), np.float32), 'vid_idx': 10 + v, 'duration': 3.5 * v})
    recs = [reference_sequence_example(
        {'startir/object/keypoint/x': s['start'][:, 0], 'startir/object/keypoint/y': s['start'][:, 1],
         'endir/object/keypoint/x': s['end'][:, 0], 'endir/object/keypoint/y': s['end'][:, 1],
         'vid_idx': np.array([s['vid_idx']]), 'duration': np.array([s['duration']], np.float32)},
        {'image/encoded': [[jpeg(f)] for f in s['video']]}) for s in stir]
    write_release_shards(tmp_path, 'stir/full_val_stir', recs, 2)
    ds = open_split('stir', 'full', tmp_path)
    assert len(ds) == 3
    for s, ex in zip(stir, ds):
        np.testing.assert_array_equal(ex['start_xy'], s['start']); np.testing.assert_array_equal(ex['end_xy'], s['end'])
        assert ex['vid_idx'] == s['vid_idx'] and ex['duration'] == s['duration']
        assert_frames_close(ex['frames'], s['video'])
    video = smooth_video(rng, 4, 32, 32, 3)
    tracks = rng.random((4, 2048, 2), np.float32)
    vis = rng.random((4, 2048)) > 0.4
    rec = reference_sequence_example({}, {
        'image/encoded': [[jpeg(f, 'PNG')] for f in video],
        'tracks/2d': [[reference_tensor(t)] for t in tracks],
        'tracks/visibility': [[reference_tensor(v.astype(np.float32))] for v in vis]})
    write_release_shards(tmp_path, 'movi/train', [rec, rec], 2)
    ds = open_split('movi', 'train', tmp_path)
    assert len(ds) == 2
    ex = ds[1]
    np.testing.assert_array_equal(ex['tracks'], tracks); np.testing.assert_array_equal(ex['visible'], vis)
    np.testing.assert_array_equal(ex['frames'].decode(), video)  # PNG: lossless


# ---------------------------------------------------------------- release-faithful behaviour data, end to end
def read_label_lists(prefix) -> list:
    "Every record's `clip/label/index` list, read with ArrayRecordReader and the protobuf package (no scivid code)."
    from array_record.python.array_record_module import ArrayRecordReader
    prefix = Path(prefix)
    out = []
    for shard in sorted(prefix.parent.glob(prefix.name + '.array_record-*')):
        reader = ArrayRecordReader(str(shard))
        for data in reader.read_all():
            ex = PB['SequenceExample'].FromString(data)
            out.append(list(ex.context.feature['clip/label/index'].int64_list.value))
        reader.close()
    return out


def control_map(label_lists, num_classes) -> float:
    "mAP of a constant score: each non-background class's positive rate (0 without positives), averaged."
    rates = [sum(c in set(ls) for ls in label_lists) / len(label_lists) for c in range(num_classes - 1)]
    return sum(rates) / len(rates)


# Label lists as the release stores them: one class, sometimes two (one duplicate); val lacks some classes.
RELEASE_BEHAVIOUR = {
    'flyvsfly': dict(classes=7, shape=(144, 144), paths={
        'train': 'fly_vs_fly/train_fly_split_ids_shuffle', 'val': 'fly_vs_fly/val_fly_split_ids_shuffle',
        'test': 'fly_vs_fly/test_fly_split_ids_shuffle'}, labels={
        'train': [[0], [6], [3, 6], [5], [6], [1], [2], [4, 4]],
        'val': [[0], [6], [5, 6], [3, 3], [6], [5]],  # no wing_threat, tussling, circling: AP 0
        'test': [[4], [6], [0, 1], [6], [2]]}),
    'calms21': dict(classes=4, shape=(285, 512), paths={
        'train': 'calms21_slim/calms21_train_split_ids_shuffle_scale05_downsample16',
        'val': 'calms21_slim/calms21_val_split_ids_shuffle_scale05',
        'test': 'calms21_slim/calms21_test_split_ids_shuffle_scale05'}, labels={
        'train': [[0], [1], [3], [2, 3], [1], [3]],
        'val': [[1], [3], [1, 3], [3], [2]],  # no attacking: AP 0
        'test': [[0], [3], [2], [1, 1]]}),
}
# hand-computed control mAPs (mean positive rate over the non-background classes), as a cross-check
HAND_CONTROL = {('flyvsfly', 'val'): (1 / 6 + 0 + 0 + 1 / 6 + 0 + 2 / 6) / 6, ('flyvsfly', 'test'): (1 + 1 + 1 + 0 + 1 + 0) / 5 / 6,
                ('calms21', 'val'): (0 + 2 / 5 + 1 / 5) / 3, ('calms21', 'test'): (1 + 1 + 1) / 4 / 3}


def write_release_behaviour(root, dataset):
    "The dataset's three splits in the release layout: grey frames as 3-channel JPEGs, 17 to 24 frames per record."
    spec, rng = RELEASE_BEHAVIOUR[dataset], np.random.default_rng(8)
    for split, label_lists in spec['labels'].items():
        records = [reference_sequence_example({'clip/label/index': np.array(ls)},
                                              {'image/encoded': [[jpeg(f)] for f in smooth_video(rng, 17 + i % 8, *spec['shape'])]})
                   for i, ls in enumerate(label_lists)]
        write_release_shards(root, spec['paths'][split], records, 2)


@pytest.mark.parametrize('dataset', list(RELEASE_BEHAVIOUR))
def test_behaviour_task_runs_on_release_records(tmp_path, dataset):
    "`scivid train --examples 0` reports the control mAP of the label lists; a short training run works too."
    from scivid.cli import main
    import json
    write_release_behaviour(tmp_path / 'data', dataset)
    spec = RELEASE_BEHAVIOUR[dataset]
    for split in ('val', 'test'):
        lists = read_label_lists(tmp_path / 'data' / 'full' / spec['paths'][split])
        assert lists == spec['labels'][split]  # the records hold the lists as written
        assert control_map(lists, spec['classes']) == pytest.approx(HAND_CONTROL[dataset, split], abs=1e-12)
    for examples in (0, 64):
        out = tmp_path / f'run{examples}'
        argv = ['train', '--task', dataset, '--examples', str(examples), '--batch-size', '8', '--readouts', 'attention',
                '--data-dir', str(tmp_path / 'data'), '--out', str(out), '--no-cache']
        assert main(argv) == 0
        records = json.loads((out / 'metrics.json').read_text())
        got = {(r['readout'], r['split'], r['metric']): r['value'] for r in records}
        for split in ('val', 'test'):
            want = control_map(spec['labels'][split], spec['classes'])
            assert got['control', split, 'mAP'] == pytest.approx(want, abs=1e-9), (split, got)
        assert got['control', 'val', 'AP/' + ('wing_threat' if dataset == 'flyvsfly' else 'attacking')] == 0
        trained = {k for k in got if k[0] == 'attention'}
        if examples == 0: assert not trained
        else: assert {('attention', 'val', 'mAP'), ('attention', 'test', 'mAP')} <= trained


def test_behaviour_label_outside_the_classes_is_one_line(tmp_path, capsys):
    "A release record whose label list names a class the task does not have stops with one line naming it."
    from scivid.cli import main
    rng = np.random.default_rng(9)
    records = [reference_sequence_example({'clip/label/index': np.array(ls)},
                                          {'image/encoded': [[jpeg(f)] for f in smooth_video(rng, 17, 144, 144)]})
               for ls in ([0], [3, 7])]  # Fly-vs-Fly has classes 0..6
    write_release_shards(tmp_path, RELEASE_BEHAVIOUR['flyvsfly']['paths']['val'], records, 1)
    code = main(['train', '--task', 'flyvsfly', '--examples', '0', '--splits', 'val', '--no-cache',
                 '--data-dir', str(tmp_path), '--out', str(tmp_path / 'run')])
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1 and 'labels [3, 7]' in err and '0..6 (K = 7)' in err, err
