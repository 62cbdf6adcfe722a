#include "textflag.h"

// func Record(hdr *uint64, h uint64, src *byte, n uintptr, written *uint64, pos uint64)
TEXT ·Record(SB),NOSPLIT,$0-48
	MOVQ	hdr+0(FP), DI
	MOVQ	src+16(FP), SI
	MOVQ	n+24(FP), DX
	LEAQ	8(DI), R8	// the payload
	MOVQ	DX, R9
	SHRQ	$3, R9		// whole words
	XORQ	R10, R10
words:
	CMPQ	R10, R9
	JAE	tail
	MOVQ	(SI)(R10*8), AX
	MOVNTIQ	AX, (R8)(R10*8)
	INCQ	R10
	JMP	words
tail:
	MOVQ	DX, CX
	ANDQ	$7, CX		// bytes in the last, partial word
	JZ	next
	CMPQ	DX, $8
	JB	short
	MOVQ	-8(SI)(DX*1), AX	// the last 8 bytes of src; keep the top CX of them
	NEGQ	CX
	ADDQ	$8, CX
	SHLQ	$3, CX
	SHRQ	CX, AX
	JMP	last
short:			// fewer than 8 bytes in all: gather them one by one
	XORQ	AX, AX
	MOVQ	DX, R11
gather:
	DECQ	R11
	SHLQ	$8, AX
	MOVBQZX	(SI)(R11*1), BX
	ORQ	BX, AX
	TESTQ	R11, R11
	JNZ	gather
last:
	MOVNTIQ	AX, (R8)(R9*8)
	INCQ	R9
next:
	XORQ	AX, AX
	MOVNTIQ	AX, (R8)(R9*8)	// the next record's header
	MOVQ	h+8(FP), AX
	MOVNTIQ	AX, (DI)
	MOVQ	written+32(FP), DX
	TESTQ	DX, DX
	JZ	done
	MOVQ	pos+40(FP), AX
	MOVQ	AX, (DX)
done:
	RET

// func Fence()
TEXT ·Fence(SB),NOSPLIT,$0-0
	SFENCE
	RET

