"""RoboLearn ChatKit server."""
