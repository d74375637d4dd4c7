// Reference values for videolib's Stash-compatible pHash (shared/media/stash_phash.py).
//
//	stashref image FILE...   goimagehash.PerceptionHash of each image file (PNG, JPEG, BMP)
//	stashref video FILE...   the video pHash computed the way Stash does: the ffmpeg CLI grabs
//	                         25 frames (-ss before -i, scale=160:-2, BMP), tiled 5x5 on an NRGBA
//	                         canvas with disintegration/imaging, then goimagehash.PerceptionHash
package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/corona10/goimagehash"
	"github.com/disintegration/imaging"
	_ "golang.org/x/image/bmp"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: stashref image|video FILE...")
		os.Exit(2)
	}
	for _, path := range os.Args[2:] {
		var img image.Image
		var err error
		if os.Args[1] == "image" {
			img, err = decodeFile(path)
		} else {
			img, err = sprite(path)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		hash, err := goimagehash.PerceptionHash(img)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		fmt.Printf("%016x %s\n", hash.GetHash(), path)
	}
}

func decodeFile(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	return img, err
}

func duration(path string) (float64, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration",
		"-of", "default=nw=1:nk=1", path).Output()
	if err != nil {
		return 0, err
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	// pkg/ffmpeg/ffprobe.go: FileDuration = math.Round(duration*100) / 100
	return math.Round(d*100) / 100, err
}

func frameAt(path string, t float64) (image.Image, error) {
	out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-ss", fmt.Sprint(t), "-i", path,
		"-frames:v", "1", "-vf", "scale=160:-2", "-c:v", "bmp", "-f", "rawvideo", "-").Output()
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(out))
	return img, err
}

func sprite(path string) (image.Image, error) {
	d, err := duration(path)
	if err != nil {
		return nil, err
	}
	var frames []image.Image
	for i := 0; i < 25; i++ {
		img, err := frameAt(path, 0.05*d+float64(i)*(0.9*d)/25)
		if err != nil {
			return nil, err
		}
		frames = append(frames, img)
	}
	w, h := frames[0].Bounds().Dx(), frames[0].Bounds().Dy()
	canvas := imaging.New(w*5, h*5, color.NRGBA{})
	for i, img := range frames {
		canvas = imaging.Paste(canvas, img, image.Pt(w*(i%5), h*(i/5)))
	}
	return canvas, nil
}
