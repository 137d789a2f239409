"""Pose data: keypoint layouts, the synthetic generator, the COCO reader, transforms, collate."""
