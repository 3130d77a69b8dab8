"""gRPC: one grpc.aio server with every plugin's service, health and reflection."""
