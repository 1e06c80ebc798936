"""The ASGI entry point for servers: `uvicorn --factory api.main:app_from_environment`."""

from litestar import Litestar

from api.app import create_app
from infra.settings import load_settings


def app_from_environment() -> Litestar:
    return create_app(load_settings())
