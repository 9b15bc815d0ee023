package documents

import (
	"bytes"
	"image/color"
	"image/png"
	"testing"
)

func TestQRPNG(t *testing.T) {
	bitmap, err := qrBitmap(goldenToken)
	if err != nil {
		t.Fatal(err)
	}
	n := len(bitmap) // 69 modules (version 13) + 2×4 quiet zone
	for _, size := range []int{n, 256, 300, 1000} {
		data, err := QRPNG(goldenToken, size)
		if err != nil {
			t.Fatalf("QRPNG(size %d): %v", size, err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("size %d: PNG does not decode: %v", size, err)
		}
		b := img.Bounds()
		if b.Dx() != size || b.Dy() != size {
			t.Errorf("image is %d×%d, want %d×%d", b.Dx(), b.Dy(), size, size)
		}
		// The corners are quiet zone (white); the finder pattern of the top
		// left starts four modules in and is dark.
		scale, offset := size/n, (size%n)/2
		if !isWhite(img.At(0, 0)) || !isWhite(img.At(size-1, size-1)) {
			t.Errorf("size %d: corners are not white", size)
		}
		if c := img.At(offset+4*scale, offset+4*scale); isWhite(c) {
			t.Errorf("size %d: no finder pattern at module (4,4)", size)
		}
	}
}

func isWhite(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r == 0xffff && g == 0xffff && b == 0xffff
}

func TestQRPNGModulesAreWholePixels(t *testing.T) {
	bitmap, err := qrBitmap(goldenToken)
	if err != nil {
		t.Fatal(err)
	}
	n := len(bitmap)
	data, err := QRPNG(goldenToken, 3*n+2)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for y := range n {
		for x := range n {
			for d := range 3 {
				px := img.At(1+3*x+d, 1+3*y+d)
				if isWhite(px) == bitmap[y][x] {
					t.Fatalf("module (%d,%d) pixel %d has the wrong colour", x, y, d)
				}
			}
		}
	}
}

func TestQRPNGRejects(t *testing.T) {
	tests := []struct {
		name    string
		content string
		size    int
	}{
		{"empty content", "", 256},
		{"size zero", "x", 0},
		{"negative size", "x", -4},
		{"huge size", "x", 10000},
		{"too small for the modules", goldenToken, 76},
		{"too much content", string(bytes.Repeat([]byte("x"), 3000)), 1024},
	}
	for _, tt := range tests {
		if _, err := QRPNG(tt.content, tt.size); err == nil {
			t.Errorf("%s: QRPNG accepted it", tt.name)
		}
	}
}
