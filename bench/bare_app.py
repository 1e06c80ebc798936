"""The floor to compare with: bare Litestar + msgspec decoding the same SINS body, no auth, no audit."""

from litestar import Litestar, post
from litestar.params import JSONBody

from domain.scores import sins


@post("/v1/scores/sins", status_code=200)
async def bare(data: JSONBody[sins.Inputs]) -> dict[str, str]:
    return {"location": str(data.location), "pain": str(data.pain)}


app = Litestar([bare], debug=False)
