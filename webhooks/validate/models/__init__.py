"""pydantic models of the Istio APIs: the schema layer, and the source of the generated CRDs."""
