package loadgen

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series colours of the latency picture.
var (
	colBG    = color.RGBA{255, 255, 255, 255}
	colAxis  = color.RGBA{60, 60, 60, 255}
	colGrid  = color.RGBA{225, 225, 225, 255}
	colP50   = color.RGBA{31, 119, 180, 255}
	colP99   = color.RGBA{214, 39, 40, 255}
	colMax   = color.RGBA{150, 150, 150, 255}
	colRate  = color.RGBA{44, 160, 44, 255}
	colError = color.RGBA{255, 127, 14, 255}
)

// WritePNG draws acknowledgement latency (p50, p99, max) per second over the run, and below it
// requests and errors per second, into a PNG file.
func (r *Result) WritePNG(path, title string) (err error) {
	const w, h = 1100, 700
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), colBG)
	top := panel{x0: 80, y0: 50, x1: w - 30, y1: 430}
	bottom := panel{x0: 80, y0: 490, x1: w - 30, y1: h - 50}
	n := len(r.Timeline)
	xmax := float64(max(n, 1))

	var ymax float64
	for _, s := range r.Timeline {
		ymax = math.Max(ymax, ms(s.Max))
	}
	ymax = niceCeil(math.Max(ymax, 1))
	top.axes(img, xmax, ymax, "ack latency (ms)")
	series := []struct {
		col color.RGBA
		get func(Second) time.Duration
	}{{colMax, func(s Second) time.Duration { return s.Max }}, {colP99, func(s Second) time.Duration { return s.P99 }},
		{colP50, func(s Second) time.Duration { return s.P50 }}}
	for _, se := range series {
		for i := 1; i < n; i++ {
			top.line(img, float64(i-1)+0.5, ms(se.get(r.Timeline[i-1])), float64(i)+0.5, ms(se.get(r.Timeline[i])), xmax, ymax, se.col)
		}
	}
	var rmax float64
	for _, s := range r.Timeline {
		rmax = math.Max(rmax, float64(s.Requests))
	}
	rmax = niceCeil(math.Max(rmax, 1))
	bottom.axes(img, xmax, rmax, "requests / s")
	for i, s := range r.Timeline {
		bottom.bar(img, float64(i), float64(s.Requests), xmax, rmax, colRate)
		if s.Errors > 0 {
			bottom.bar(img, float64(i), float64(s.Errors), xmax, rmax, colError)
		}
	}
	label(img, 80, 18, title, colAxis)
	legend := []struct {
		name string
		col  color.RGBA
	}{{"p50", colP50}, {"p99", colP99}, {"max", colMax}, {"req/s", colRate}, {"errors/s", colError}}
	x := w - 420
	for _, l := range legend {
		fill(img, image.Rect(x, 8, x+14, 18), l.col)
		label(img, x+18, 18, l.name, colAxis)
		x += 80
	}
	label(img, w/2-40, h-15, "seconds into the run", colAxis)

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	if err := png.Encode(f, img); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

type panel struct{ x0, y0, x1, y1 int }

func (p panel) px(x, xmax float64) int { return p.x0 + int(x/xmax*float64(p.x1-p.x0)) }
func (p panel) py(y, ymax float64) int { return p.y1 - int(math.Min(y, ymax)/ymax*float64(p.y1-p.y0)) }

func (p panel) axes(img *image.RGBA, xmax, ymax float64, name string) {
	for i := 0; i <= 5; i++ {
		y := p.y1 - i*(p.y1-p.y0)/5
		fill(img, image.Rect(p.x0, y, p.x1, y+1), colGrid)
		label(img, 10, y+4, trimFloat(ymax*float64(i)/5), colAxis)
	}
	step := max(1, int(math.Ceil(xmax/10)))
	for s := 0; s <= int(xmax); s += step {
		x := p.px(float64(s), xmax)
		fill(img, image.Rect(x, p.y1, x+1, p.y1+5), colAxis)
		label(img, x-6, p.y1+18, fmt.Sprint(s), colAxis)
	}
	fill(img, image.Rect(p.x0, p.y0, p.x0+1, p.y1), colAxis)
	fill(img, image.Rect(p.x0, p.y1, p.x1, p.y1+1), colAxis)
	label(img, p.x0+6, p.y0-6, name, colAxis)
}

func (p panel) line(img *image.RGBA, x0, y0, x1, y1, xmax, ymax float64, c color.RGBA) {
	ax, ay, bx, by := p.px(x0, xmax), p.py(y0, ymax), p.px(x1, xmax), p.py(y1, ymax)
	steps := max(abs(bx-ax), abs(by-ay), 1)
	for i := 0; i <= steps; i++ {
		x := ax + (bx-ax)*i/steps
		y := ay + (by-ay)*i/steps
		fill(img, image.Rect(x, y-1, x+1, y+1), c)
	}
}

func (p panel) bar(img *image.RGBA, x, v, xmax, vmax float64, c color.RGBA) {
	left, right := p.px(x, xmax)+1, p.px(x+1, xmax)-1
	fill(img, image.Rect(left, p.py(v, vmax), max(right, left+1), p.y1), c)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2g", v)
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func label(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
