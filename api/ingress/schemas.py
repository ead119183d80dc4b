"""What a public door answers about the files it received (every door, the same shape)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FileOut(BaseModel):
    name: str = Field(description="The file name as you sent it.")
    size: int
    sha256: str
    type: str = Field(description="The type detected from the file's content.")
