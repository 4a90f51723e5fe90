"""Safe checkpoints: weights only (a pickle payload is refused before it runs, with one clear line), no networks in
the hyper-parameters, the speakers' data-derived state inside the checkpoint (inference needs no data), one loader
of a run folder."""

from __future__ import annotations

import pathlib
import pickle
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from torch import nn

from talkzoo.cli import main
from talkzoo.datamodules.sequence import MotionDataModule
from talkzoo.datamodules.speaker_info import SpeakerInfo
from talkzoo.lightning_modules.ernerf_head import ERNeRFHead
from talkzoo.lightning_modules.ernerf_torso import ERNeRFTorso
from talkzoo.lightning_modules.faconet import FaCoNet
from talkzoo.lightning_modules.moda import MODA
from talkzoo.lightning_modules.portrait_renderer import PortraitRenderer
from talkzoo.lightning_modules.run_loading import load_run, load_run_module
from talkzoo.lightning_modules.speaker_module import SPEAKERS_KEY
from talkzoo.zoo.ernerf import HeadField
from talkzoo.zoo.ernerf.torso_field import TorsoField
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.faconet import FaCoGenerator, PointDiscriminator
from talkzoo.zoo.moda import MelConvEncoder, RecurrentBody
from talkzoo.zoo.portrait import MultiscaleDiscriminator, UNetGenerator
from talkzoo.zoo.rendering import GridSampler


class Payload:
    """Unpickling it would create `marker` (what a malicious checkpoint could do with any other call)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (pathlib.Path.touch, (self.marker,))


def _poisoned(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}, "global_step": 0, "hyper_parameters": {"x": Payload(marker)}}, path)
    torch.load(path, weights_only=False)  # an unrestricted load runs the payload: the refusals below are not vacuous
    assert marker.exists()
    marker.unlink()
    return path


def test_a_pickle_payload_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "payload_ran"
    ckpt = _poisoned(tmp_path / "run" / "checkpoints" / "last.ckpt", marker)
    loaders = (
        lambda: load_run_module(ckpt),
        lambda: load_run(tmp_path / "run", MODA),
        lambda: MODA.load_from_checkpoint(ckpt),
    )
    for load in loaders:
        with pytest.raises(UserError) as error:
            load()
        message = str(error.value)
        assert "refused" in message and "weights_only=True" in message and "\n" not in message, message
        assert not marker.exists(), "the payload ran"


def test_lightning_resume_refuses_a_pickle_payload(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    marker = workdir / "payload_ran"
    ckpt = _poisoned(workdir / "evil.ckpt", marker)
    args = ["fit", "--config", "moda", "--config", "moda_cpu", "--config", "cpu_smoke", "--ckpt_path", str(ckpt)]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refused" in err[0] and str(ckpt) in err[0], err
    assert not marker.exists()

    data = MotionDataModule([str(workdir / "outputs/synth/speaker")], window=20, stride=10, jitter=0, batch_size=2)
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    with pytest.raises(pickle.UnpicklingError):  # Lightning's own resume path, weights only
        trainer.fit(_moda(), datamodule=data, ckpt_path=str(ckpt), weights_only=True)
    assert not marker.exists()


def _moda() -> MODA:
    return MODA(MelConvEncoder(80, 16, layers=1), RecurrentBody(16, layers=1), hidden=16, lips_hidden=16, tail_hidden=8)


def test_no_module_keeps_a_network_in_its_hyperparameters(tmp_path: Path) -> None:
    field = HeadField(audio_in=80, levels=2, base_resolution=8, finest_resolution=16, log2_hashmap_size=10, ind_num=8)
    head = ERNeRFHead(field, GridSampler(backend="torch", resolution=8))
    modules = [
        _moda(),
        FaCoNet(FaCoGenerator(), PointDiscriminator()),
        PortraitRenderer(UNetGenerator(19, 3, ngf=8, num_downs=2), MultiscaleDiscriminator(22, ndf=8, num_d=1)),
        head,
        ERNeRFTorso(TorsoField(levels=2, finest_resolution=16, log2_hashmap_size=10), head=head),
    ]
    for module in modules:
        assert not [k for k, v in module.hparams.items() if isinstance(v, nn.Module)], type(module).__name__
        buffer = tmp_path / f"{type(module).__name__}.pt"
        torch.save(dict(module.hparams), buffer)
        torch.load(buffer, weights_only=True)  # plain data only


def test_a_run_loads_without_its_data(workdir: Path) -> None:
    """`talkzoo fit` stores the speakers' SpeakerInfo in the checkpoint: with the speaker folder gone, the run folder
    alone rebuilds MODA (networks from config.yaml) and predicts motion in the speaker's units."""
    assert main(["fit", "--config", "moda_lstm", "--config", "moda_cpu", "--config", "cpu_smoke"]) == 0
    state = torch.load(workdir / "runs/moda_lstm/checkpoints/last.ckpt", weights_only=True)
    stored = SpeakerInfo.from_dict(state[SPEAKERS_KEY][0])
    (workdir / "outputs" / "synth" / "speaker").unlink()  # the data is gone

    model = load_run(workdir / "runs" / "moda_lstm", MODA)
    assert isinstance(model.body, RecurrentBody) and not model.training
    same = MODA.load_from_checkpoint(workdir / "runs/moda_lstm/checkpoints/last.ckpt")  # delegates to load_run_module
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), same.state_dict().values(), strict=True))
    info = model.speakers[0]
    assert info.camera == stored.camera and info.fps == stored.fps and info.audio_source == "features"
    np.testing.assert_array_equal(info.stats.lips_mean, stored.stats.lips_mean)
    motion = model.predict_motion(np.zeros(8000, dtype=np.float32))
    assert motion["lips"].shape == (round(0.5 * info.fps), 40, 3)
    error = (motion["lips"] - torch.from_numpy(info.stats.lips_mean)).abs().mean()
    assert error < 50 * info.stats.lips_std.mean()  # de-normalised with the stored statistics: the speaker's units

    with pytest.raises(UserError, match="expected a ERNeRFHead"):
        load_run(workdir / "runs" / "moda_lstm", ERNeRFHead)
    with pytest.raises(UserError, match="holds no trained run"):
        load_run(workdir / "runs" / "nothing_here")


def test_speaker_info_round_trips_through_a_weights_only_file(tiny_speaker: Path, tmp_path: Path) -> None:
    data = MotionDataModule([str(tiny_speaker)], window=20, stride=10, jitter=0)
    data.setup("fit")
    (info,) = data.speaker_infos()
    assert info.audio_dim == 80 and info.stats is not None and info.mean_canonical.shape == (478, 3)
    path = tmp_path / "info.pt"
    torch.save(info.to_dict(), path)
    back = SpeakerInfo.from_dict(torch.load(path, weights_only=True))
    assert (back.name, back.fps, back.camera, back.image_size, back.num_train) == (
        info.name, info.fps, info.camera, info.image_size, info.num_train,
    )  # fmt: skip
    np.testing.assert_array_equal(back.mean_canonical, info.mean_canonical)
    np.testing.assert_array_equal(back.stats.head_std, info.stats.head_std)
    with pytest.raises(ValueError, match="version"):
        SpeakerInfo.from_dict({**info.to_dict(), "version": 99})
