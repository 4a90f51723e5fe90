"""Metrics shared by every method. Landmark metrics (LMD, LMD-v, mouth-area IoU, mouth opening, diversity) live in
`talkzoo.zoo.metrics.landmarks`."""

from talkzoo.zoo.metrics.landmarks import (
    diversity,
    landmark_distance,
    landmark_velocity_distance,
    lip_polygon,
    mouth_area_iou,
    mouth_opening,
    pearson,
    polygon_iou,
    project_points,
)

__all__ = [
    "diversity",
    "landmark_distance",
    "landmark_velocity_distance",
    "lip_polygon",
    "mouth_area_iou",
    "mouth_opening",
    "pearson",
    "polygon_iou",
    "project_points",
]
