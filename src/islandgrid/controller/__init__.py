"""The live EMS: the controller, its supervised loops, metering and alarms (devices only through a link)."""
