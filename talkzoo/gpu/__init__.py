"""The GPU verification kit (docs/gpu.md): `make gpu-kit` builds `.gpu_kit/` (the wheels the GPU check machine
lacks + a pre-made 512² synthetic speaker); `python3 -m talkzoo.gpu` (`make gpu-check`) runs every CUDA check of
talkzoo within a budget and writes gpu_report.json / gpu_report.md; `--device cpu` rehearses it at tiny sizes.

The runner side (runner, kit, report, profiles, checks/__init__) is stdlib-only; the checks run in worker processes
(child) once the kit's wheels and the talkzoo namespace are in place.
"""
