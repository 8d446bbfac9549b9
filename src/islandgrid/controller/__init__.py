"""The live EMS: device links, the device twin, the controller service, API and dashboard."""
