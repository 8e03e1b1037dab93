"""Model back ends behind one interface: OpenAI-compatible chat models, built-in baselines, scripted models."""
