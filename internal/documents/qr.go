package documents

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"

	qrcode "github.com/skip2/go-qrcode"
)

// maxQRSize bounds the PNG side in pixels (64 MiB of pixels would be a bug).
const maxQRSize = 4096

// QRPNG returns content as a square PNG QR code of size × size pixels with
// medium error correction (level M, about 15 % of the symbol may be soiled).
// Every module is a whole number of pixels, so the code stays sharp; the
// pixels left over widen the white quiet zone. A size smaller than the
// symbol needs is an error rather than a silently larger image.
func QRPNG(content string, size int) ([]byte, error) {
	bitmap, err := qrBitmap(content)
	if err != nil {
		return nil, err
	}
	if size <= 0 || size > maxQRSize {
		return nil, fmt.Errorf("qr code: size %d out of range 1..%d", size, maxQRSize)
	}
	n := len(bitmap)
	if size < n {
		return nil, fmt.Errorf("qr code: %d pixels are too few for %d modules", size, n)
	}
	return encodeQR(bitmap, size/n, (size%n)/2, size)
}

// qrBitmap encodes content at level M; the bitmap includes the quiet zone of
// four modules the standard requires.
func qrBitmap(content string) ([][]bool, error) {
	if content == "" {
		return nil, errors.New("qr code: empty content")
	}
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return q.Bitmap(), nil
}

// encodeQR draws bitmap with scale pixels per module, offset pixels from the
// top left corner, on a white square of size pixels.
func encodeQR(bitmap [][]bool, scale, offset, size int) ([]byte, error) {
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y, row := range bitmap {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := 0; dy < scale; dy++ {
				line := img.Pix[(offset+y*scale+dy)*img.Stride:]
				for dx := 0; dx < scale; dx++ {
					line[offset+x*scale+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return buf.Bytes(), nil
}
