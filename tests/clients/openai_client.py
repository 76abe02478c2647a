"""The official `openai` package against Pixzoo's OpenAI-compatible images endpoint."""

import base64
import io
import sys
import urllib.request

import openai
from PIL import Image


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()  # a full decode, not just the header
    return image


def main(base: str) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="not-needed-when-API_KEY-is-unset")

    result = client.images.generate(model="builtin", prompt="a teapot on a wooden table", n=2, size="256x192")
    assert len(result.data) == 2, result
    images = [decode(base64.b64decode(item.b64_json)) for item in result.data]
    assert all(image.size == (256, 192) for image in images), [image.size for image in images]
    assert images[0].tobytes() != images[1].tobytes(), "n=2 gives two different images"
    assert result.data[0].revised_prompt, result.data[0]

    result = client.images.generate(model="builtin", prompt="a teapot", size="128x128", response_format="url")
    url = result.data[0].url
    assert url.startswith(base), url
    with urllib.request.urlopen(url) as response:
        assert decode(response.read()).size == (128, 128)

    try:
        client.images.generate(model="no-such-model", prompt="a teapot")
    except openai.NotFoundError as error:
        assert error.status_code == 404 and "no-such-model" in str(error), error
    else:
        raise AssertionError("an unknown model must be refused")

    try:
        client.images.generate(model="builtin", prompt="a teapot", n=9)
    except openai.BadRequestError as error:
        assert error.body["param"] == "n", error.body
    else:
        raise AssertionError("n=9 must be refused")

    edits_and_variations(client)
    print("openai client: ok")


def png(size, colour, mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, format="PNG")
    return out.getvalue()


def edits_and_variations(client) -> None:
    source = png((96, 64), (30, 120, 200))
    # OpenAI's mask: transparent where the image is to change.
    mask = Image.new("RGBA", (96, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 48, 64))
    mask_bytes = io.BytesIO()
    mask.save(mask_bytes, format="PNG")

    result = client.images.edit(
        model="builtin",
        image=("source.png", source, "image/png"),
        mask=("mask.png", mask_bytes.getvalue(), "image/png"),
        prompt="a lighthouse at dusk",
        n=2,
    )
    assert len(result.data) == 2, result
    edited = [decode(base64.b64decode(item.b64_json)) for item in result.data]
    assert all(image.size == (96, 64) for image in edited), [image.size for image in edited]

    result = client.images.create_variation(image=("source.png", source, "image/png"), size="64x64")
    assert decode(base64.b64decode(result.data[0].b64_json)).size == (64, 64)

    try:
        client.images.edit(image=("notes.txt", b"not an image", "text/plain"), prompt="anything")
    except openai.APIStatusError as error:
        assert error.status_code == 415 and error.body["param"] == "image", error.body
    else:
        raise AssertionError("a file that is not an image must be refused")


if __name__ == "__main__":
    main(sys.argv[1])
