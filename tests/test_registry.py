"""The method registry drives the CLI: `talkzoo recipes`, `talkzoo generate --method` choices, recipe names."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkzoo.cli import main
from talkzoo.methods import METHODS, Method, Stage, all_stages, get_method, register
from talkzoo.recipes import recipe_files, resolve_config, resolve_config_args
from talkzoo.zoo.errors import UserError


@pytest.fixture()
def dummy_method() -> Method:
    """A third method registered at run time (and removed after the test)."""
    method = register(
        Method(
            name="dummy_splats",
            summary="a dummy method that exists only in this test",
            stages=(Stage("dummy_stage", "moda", "moda_cpu", ("--data.speakers={speakers}",), "stage summary"),),
            avatar="talkzoo.avatars.moda:MODAAvatar",
        )
    )
    yield method
    del METHODS[method.name]


def test_a_registered_method_appears_everywhere(dummy_method: Method, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "dummy_splats" in out and "a dummy method that exists only in this test" in out
    assert "stage dummy_stage: --config moda + moda_cpu" in out
    assert main(["generate", "--help"]) == 0
    assert "dummy_splats" in capsys.readouterr().out
    assert get_method("dummy_splats") is dummy_method


def test_register_refuses_a_taken_name_and_unknown_names_are_user_errors() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(METHODS["moda"])
    with pytest.raises(UserError, match="unknown method 'nope'; choose one of moda, ernerf"):
        get_method("nope")


def test_every_stage_names_shipped_recipes_and_unique_run_folders() -> None:
    names = {f.name for f in recipe_files()}
    stages = [s for m in METHODS.values() for s in m.stages]
    assert len({s.name for s in stages}) == len(stages)
    for stage in stages:
        assert stage.recipe in names and (stage.cpu_preset is None or stage.cpu_preset in names), stage.name


def test_stage_overrides_bind_speaker_runs_and_size() -> None:
    torso = get_method("ernerf").stages[1]
    args = torso.fit_overrides("/data/me", "/runs", 96)
    assert args == [
        "--data.speaker=/data/me",
        "--data.init_args.size=96",
        "--model.init_args.head_checkpoint=/runs/ernerf_head/checkpoints/last.ckpt",
    ]
    assert "--data.init_args.size=96" not in torso.fit_overrides("/data/me", "/runs", None)
    assert get_method("moda").stages[0].fit_overrides("/data/me", "/runs") == ['--data.speakers=["/data/me"]']


def test_stages_require_the_runs_their_overrides_read() -> None:
    """`talkzoo avatar` trains stages side by side; a stage that reads another's checkpoint waits for it."""
    stages = all_stages()
    assert stages["ernerf_torso"].requires == ("ernerf_head",)
    assert set(stages["talkinggaussian_fuse"].requires) == {"talkinggaussian_face", "talkinggaussian_mouth"}
    assert stages["moda"].requires == stages["renderer"].requires == stages["ernerf_head"].requires == ()


def test_recipes_resolve_by_name_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    kinds = {f.kind for f in recipe_files()}
    assert kinds == {"recipe", "preset", "trainer", "logger"}
    assert len([f for f in recipe_files() if f.kind == "recipe"]) >= 6
    assert resolve_config("moda").endswith("configs/moda.yaml")
    assert resolve_config("moda_cpu").endswith("configs/presets/moda_cpu.yaml")
    assert resolve_config("some/file.yaml") == "some/file.yaml"  # paths are left to LightningCLI
    assert resolve_config("trainer/cpu_smoke") == resolve_config("cpu_smoke")
    assert resolve_config_args(["fit", "--config", "ddp_cpu", "--config=wandb_offline", "--x", "moda"]) == [
        "fit", "--config", resolve_config("ddp_cpu"), "--config=" + resolve_config("wandb_offline"), "--x", "moda",
    ]  # fmt: skip
    with pytest.raises(UserError, match="--config mdoa: no such file or recipe"):
        resolve_config("mdoa")
    for f in recipe_files():
        assert f.summary and "\n" not in f.summary, f.name
