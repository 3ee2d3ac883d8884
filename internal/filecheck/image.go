package filecheck

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

var (
	// errTruncated: the data stops before the format's end marker.
	errTruncated = errors.New("truncated")
	// errDamaged: the structure is wrong; more bytes would not help.
	errDamaged = errors.New("damaged")
)

// maxPixels bounds the dimensions an image header may claim (a 1-gigapixel
// "photo" is damaged or hostile, never a receipt).
const maxPixels = 1 << 30

func missingPart(k Kind) string {
	switch k {
	case KindPNG:
		return "the PNG end (IEND chunk)"
	case KindJPEG:
		return "the JPEG end-of-image marker"
	case KindWebP:
		return "part of the WebP data its header announces"
	}
	return "its end"
}

// checkImage validates a whole image held in b: its header decodes to sane
// dimensions and its end marker is present. Errors are *Problem.
func checkImage(k Kind, b []byte) (int, int, error) {
	name := map[Kind]string{KindPNG: "PNG", KindJPEG: "JPEG", KindWebP: "WebP"}[k]
	if _, err := imageEnd(k, bufio.NewReader(bytes.NewReader(b)), int64(len(b))); err != nil {
		if errors.Is(err, errTruncated) {
			return 0, 0, &Problem{Code: CodeTruncated, Message: fmt.Sprintf("the %s image is cut short (it lacks %s): an interrupted copy or upload from a phone; drop a complete copy again", name, missingPart(k))}
		}
		return 0, 0, &Problem{Code: CodeDamaged, Message: fmt.Sprintf("the %s image is damaged (%v): export or photograph it again and drop the new file", name, err)}
	}
	var cfg image.Config
	var err error
	switch k {
	case KindPNG:
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	case KindJPEG:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	case KindWebP:
		cfg, err = decodeWebPConfig(b)
	default:
		return 0, 0, fmt.Errorf("check image: unexpected kind %q", k)
	}
	if err != nil {
		return 0, 0, &Problem{Code: CodeDamaged, Message: fmt.Sprintf("the %s image's header cannot be decoded (%v): export or photograph it again and drop the new file", name, err)}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return 0, 0, &Problem{Code: CodeDamaged, Message: fmt.Sprintf("the %s image claims a size of %d×%d pixels, which is not a real picture: export or photograph it again", name, cfg.Width, cfg.Height)}
	}
	return cfg.Width, cfg.Height, nil
}

// decodeWebPConfig guards the WebP decoder, which is less hardened than the
// standard library's, against panics on hostile input.
func decodeWebPConfig(b []byte) (cfg image.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("webp decoder failed: %v", r)
		}
	}()
	return webp.DecodeConfig(bytes.NewReader(b))
}

// imageEnd walks an image's structure from the start and returns the offset
// just past its end marker. It reads only chunk and segment headers, except
// for JPEG scans, which have no length and are scanned for the next marker.
func imageEnd(k Kind, r *bufio.Reader, size int64) (int64, error) {
	switch k {
	case KindPNG:
		return pngEnd(r)
	case KindJPEG:
		return jpegEnd(r)
	case KindWebP:
		return webpEnd(r, size)
	}
	return 0, fmt.Errorf("image end: unexpected kind %q", k)
}

// eof maps running out of data to errTruncated.
func eof(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return err
}

// pngEnd follows the chunk lengths from the signature to IEND.
func pngEnd(r *bufio.Reader) (int64, error) {
	var sig [8]byte
	if _, err := io.ReadFull(r, sig[:]); err != nil {
		return 0, eof(err)
	}
	if string(sig[:]) != "\x89PNG\r\n\x1a\n" {
		return 0, fmt.Errorf("%w: no PNG signature", errDamaged)
	}
	off := int64(8)
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, eof(err)
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n > 1<<31-1 {
			return 0, fmt.Errorf("%w: chunk length %d at offset %d", errDamaged, n, off)
		}
		for _, c := range hdr[4:] {
			if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
				return 0, fmt.Errorf("%w: bad chunk type at offset %d", errDamaged, off)
			}
		}
		skip := int64(n) + 4 // data and CRC
		if d, err := r.Discard(int(skip)); int64(d) != skip {
			return 0, eof(errors.Join(io.ErrUnexpectedEOF, err))
		}
		off += 8 + skip
		if string(hdr[4:]) == "IEND" {
			return off, nil
		}
	}
}

// jpegEnd follows marker segments and scans to the EOI marker that ends a
// JPEG with at least one scan. Trailing bytes after EOI are allowed (some
// phones append data there).
func jpegEnd(r *bufio.Reader) (int64, error) {
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil {
		return 0, eof(err)
	}
	if soi != [2]byte{0xff, 0xd8} {
		return 0, fmt.Errorf("%w: no JPEG start-of-image marker", errDamaged)
	}
	off := int64(2)
	scans := 0
	haveFF := false // the 0xFF of the next marker was read while scanning
	for {
		if !haveFF {
			c, err := r.ReadByte()
			if err != nil {
				return 0, eof(err)
			}
			off++
			if c != 0xff {
				return 0, fmt.Errorf("%w: expected a marker at offset %d", errDamaged, off-1)
			}
		}
		haveFF = false
		m := byte(0xff)
		for m == 0xff { // fill bytes
			var err error
			if m, err = r.ReadByte(); err != nil {
				return 0, eof(err)
			}
			off++
		}
		switch {
		case m == 0xd9:
			if scans == 0 {
				return 0, fmt.Errorf("%w: the image ends before any picture data", errDamaged)
			}
			return off, nil
		case m == 0x01 || m >= 0xd0 && m <= 0xd7:
			continue // markers without a length
		case m == 0x00 || m == 0xd8:
			return 0, fmt.Errorf("%w: unexpected marker 0x%02x at offset %d", errDamaged, m, off-1)
		}
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return 0, eof(err)
		}
		n := int(binary.BigEndian.Uint16(l[:]))
		if n < 2 {
			return 0, fmt.Errorf("%w: segment length %d at offset %d", errDamaged, n, off)
		}
		if d, err := r.Discard(n - 2); d != n-2 {
			return 0, eof(errors.Join(io.ErrUnexpectedEOF, err))
		}
		off += int64(n)
		if m != 0xda {
			continue
		}
		scans++
		// Entropy-coded data: runs until a 0xFF that is neither stuffing
		// (FF 00) nor a restart marker (FF D0-D7).
		for !haveFF {
			b, err := r.ReadByte()
			if err != nil {
				return 0, eof(err)
			}
			off++
			if b != 0xff {
				continue
			}
			next, err := r.Peek(1)
			if err != nil {
				return 0, eof(err)
			}
			if next[0] == 0x00 || next[0] >= 0xd0 && next[0] <= 0xd7 {
				_, _ = r.ReadByte()
				off++
				continue
			}
			haveFF = true
		}
	}
}

// webpEnd checks the RIFF container: the size field announces how many bytes
// follow, and the file must hold them all.
func webpEnd(r *bufio.Reader, size int64) (int64, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, eof(err)
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WEBP" {
		return 0, fmt.Errorf("%w: no RIFF/WEBP header", errDamaged)
	}
	n := int64(binary.LittleEndian.Uint32(hdr[4:8]))
	if n < 4+8 {
		return 0, fmt.Errorf("%w: RIFF size %d is too small for any image", errDamaged, n)
	}
	end := 8 + n + n%2
	if size < 8+n {
		return 0, errTruncated
	}
	return min(end, size), nil
}
