"""What the pipeline says about a frame, as plain data every stage shares (no OpenCV).

``frame``: detections, faces and frame results; ``boxes``: their geometry; ``aggregate``
and ``face_events``: what many frames add up to (shares per interval, faces appearing,
changing and leaving), for the outputs and integrations that report them.
"""
