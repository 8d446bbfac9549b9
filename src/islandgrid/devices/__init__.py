"""The device protocol, shared by the controller and the twin: register maps, device states, clocks.

Nothing here knows the twin's physics or the simulator; the controller (the hardware side) and the
twin both build on it.
"""
