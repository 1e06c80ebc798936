"""The floor to compare with: bare Litestar + msgspec decoding the same body into the same Struct (a SINS, or a
whole case), no auth, no audit, no computation."""

from litestar import Litestar, post
from litestar.params import JSONBody

from domain import evaluation
from domain.scores import sins


@post("/v1/scores/sins", status_code=200)
async def bare(data: JSONBody[sins.Inputs]) -> dict[str, str]:
    return {"location": str(data.location), "pain": str(data.pain)}


@post("/v1/evaluations", status_code=200)
async def bare_case(data: JSONBody[evaluation.Case]) -> dict[str, str]:
    return {"lesions": str(len(data.lesions))}


app = Litestar([bare, bare_case], debug=False)
