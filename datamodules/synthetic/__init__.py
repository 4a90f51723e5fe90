"""The synthetic speaker: a real photo animated by speech, with exact ground truth (`talkzoo synth`).

    from talkzoo.datamodules.synthetic import synthesize
    synthesize("out", seconds=20, size=512, seed=0)   # out/raw.mp4 + out/speaker/ (the speaker format)

Face: `skimage.data.astronaut()` cropped to head and shoulders (photo.py). Its MediaPipe 478-point mesh
(FaceMesh static, refine_landmarks) and person matte (SelfieSegmentation) are detected once at 512² and scaled,
so the ground truth is deterministic and the same (up to scale) at every size.

Conventions (S = size, all lengths in pixels of the output size; OpenCV camera axes x right, y down, z forward):

- Intrinsics: square pixels, fx = fy = f = 2.5·S, cx = cy = S/2 (camera.py). Pixel centres are at integers.
- Rest pose = the photo. Rest landmarks (x, y, z) are MediaPipe's (x·W, y·H, z·W). Each is unprojected at depth
  Z = f + z (so one canonical unit ≈ one pixel at the head's depth): X = (x − cx)·Z/f, Y = (y − cy)·Z/f.
- Head origin (anchor): the mean of landmarks 50, 280 (cheeks) and 168 (nose bridge), pushed back into the head
  along +Z by half the cheek-to-cheek distance, so the head turns about a pivot behind the face.
  canonical = camera point − anchor; the rest pose is R = I, t = anchor.
- Per frame the canonical mesh is deformed (mouth, blink: face_fields.py; only X and Y change, by the rest-image
  displacement × Z/f), then X_cam = R·X_can + t with R = Ry(yaw)·Rx(pitch)·Rz(roll).
  pose.npy[i] = [[R, t], [0, 0, 0, 1]] (head -> camera, rigid, no scale); canonical.npy[i] = the deformed mesh.
  landmarks.npy[i] = (f·X/Z + cx, f·Y/Z + cy, Z − t_z).
- shoulders.npy[i] [18, 3]: 9 points along each shoulder contour (the top edge of the torso label; image-left
  shoulder first, each ordered by x), moved by the torso sway, unprojected at depth t_z, then Rᵀ(X − t).
- blink.npy: the eyelid closure applied to both eyes (0 open, 1 closed: the upper lid lies on the lower lid).
- detected.npy: all True. parsing: 0 background, 1 head (face + hair), 2 neck, 3 torso, warped with the frame.
  background.png: the photo with the person inpainted; every frame is the warped person composited over it.

Animation (motion.py): mouth opening from the speech loudness, lip width from the spectral centroid (smoothed,
40 ms lead), blinks every 2–6 s, smooth head rotation (yaw ±12°, pitch ±8°, roll ±5°) and translation, torso
sway following the head 0.3 s late; all random draws from numpy.random.default_rng(seed).
Rendering (render.py, warp.py): one backward map per frame = thin-plate spline through the moving control points
(coarse grid, upsampled) composed with the inverse of the analytic face field; one cv2.remap of the person layer.

Hard style (`synthesize(..., style="hard")`, `talkzoo synth --style hard`): the same photo, detection, camera,
ground-truth conventions and formulas (render.TruthModel), audio-driven mouth and blinks, but rendered as a
textured 3-D head, so what breaks on real video shows:

- Scene (scene.py, built once per size): the 468-vertex MediaPipe mesh (face_mesh.py: triangles from
  FACEMESH_TESSELATION; holes at the eyes and inner lips) whose vertices ARE the frame's deformed canonical
  landmarks; eyeballs behind the eye holes (the lids' skin slides over them in a blink); the inside of the mouth
  behind the lips (the photo's upper teeth moving with the upper lip, procedural lower teeth and a dark
  palate/throat/tongue wall that stretches as the jaw drops: mouth_eyes.py); a closed head shell over the head
  label (hair, ears, the back of the head, the underside of the jaw), a neck continued up under the jaw (70% of
  the head's motion at the chin, as the easy style) and a torso continued under the neck and past the border
  (head_geometry.py). Textures are the photo split into per-region tiles whose colours extend past each region
  (textures.py), so a turned head shows hair, never the photo's background.
- Per frame (hard_render.py): one z-buffer pass (rasterize.py, vectorised numpy), barycentric texture lookup
  (one cv2.remap of the atlas), Lambertian shading relative to the photo's own light (changes with the head's pose
  and a light that swings ±35° / ±15° at 0.03–0.1 Hz: motion.light_track), a procedural room background
  (background.png; textures.backdrop), 3×3 smoothing across part edges, sensor noise (σ² = 2² + 0.02·I, seeded by
  (seed, frame)). frames/ hold the noisy frames; raw.mp4 is H.264 at crf 23 (x264's default).
- Motion: motion.py with yaw ±25°, pitch ±15°, roll ±8° (motion.HARD_HEAD_LIMITS_DEG).
- Ground truth as above, exactly: landmarks.npy are the projected mesh vertices (the irises lie on the eyeballs),
  parsing is the rendered label buffer (eyeballs and mouth count as head), torso/ the neck and torso pixels of the
  noisy frame; shoulders are the torso label's top edge moved by the sway (the torso surface moves rigidly in the
  image by exactly the sway).
"""

from talkzoo.datamodules.synthetic.synthesize import Animation, animate, clip_audio, synthesize

__all__ = ["Animation", "animate", "clip_audio", "synthesize"]
