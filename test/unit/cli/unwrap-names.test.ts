import { describe, expect, it } from 'vitest'
import { unwrapNames } from '../../../scripts/unwrap-names.js'

// esbuild's keepNames helper as the build rewrites it (scripts/build-cli.ts, KEEP_NAMES_IF_DIFFERENT).
const HELPER = 'var __defProp=Object.defineProperty;var __name=(target,value)=>target.name===value?target:__defProp(target,"name",{value:value,configurable:true});'

/** What `code` leaves in `out` (an object of values), run with the helper. */
function run (code: string): Record<string, unknown> {
  return new Function(`${HELPER}const out={};${code};return out`)() as Record<string, unknown>
}

/** Every function in `out` (one level of objects too), with its name property's descriptor. */
function names (out: Record<string, unknown>): Record<string, PropertyDescriptor | undefined> {
  const found: Record<string, PropertyDescriptor | undefined> = {}
  for (const [k, v] of Object.entries(out)) {
    if (typeof v === 'function') found[k] = Object.getOwnPropertyDescriptor(v, 'name')
    else if (typeof v === 'object' && v !== null) {
      for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'function') found[`${k}.${k2}`] = Object.getOwnPropertyDescriptor(v2, 'name')
    }
  }
  return found
}

describe('unwrapNames (scripts/unwrap-names.ts): esbuild __name wrappers where JavaScript names the function anyway', () => {
  const unwrapped: Array<[string, string]> = [
    ['a property of the same name', 'out.o={load:__name(async()=>1,"load"),b:2}'],
    ['a quoted property of the same name', 'out.o={"make":__name((a,b)=>a+b,"make")}'],
    ['a declared constant', 'const handle=__name((val,msg)=>val,"handle");out.f=handle'],
    ['an assigned variable', 'let x;x=__name(function(){return 1},"x");out.f=x'],
    ['a parameter of one name, no parentheses', 'var get=__name(l=>[32,l],"get");out.f=get'],
    ['a class field', 'class C{stdout=__name(s=>s,"stdout")};out.f=new C().stdout'],
    ['a default value', 'function g(a=__name(()=>1,"a")){return a};out.f=g()'],
    ['a function expression whose own name is the name', 'out.o={get:__name(function get(){return 1},"get")}'],
    ['a generator', 'out.o={gen:__name(function*(){yield 1},"gen")}'],
    ['strings, templates and regular expressions with commas and brackets inside', 'const t=__name(s=>s.replace(/[,)(]/g,"(,")+`a,${s.split(",")[0]})`+\'),\',"t");out.f=t;out.r=t("x,y)")'],
    ['nested wrappers', 'var bin=__name(op=>({inner:__name((x,y)=>[x,y,op],"inner")}),"bin");out.f=bin;out.o=bin(3)'],
    // After a postfix ++ or -- a `/` divides (a regex there would not compile).
    ['a division after a postfix increment', 'let i=4,j=4,a;out.u=[a=__name(()=>i++/2,"a"),a=__name(()=>j--/1,"a")].map(f=>f());out.f=a']
  ]
  for (const [what, code] of unwrapped) {
    it(`unwraps ${what}, with the same names and results`, () => {
      const r = unwrapNames(code)
      expect(r.removed).toBeGreaterThan(0)
      expect(r.code).not.toContain('__name(')
      const before = run(code)
      const after = run(r.code)
      expect(names(after)).toEqual(names(before))
      expect(Object.values(names(after)).every(d => d !== undefined && d.value !== '')).toBe(true)
      expect(JSON.stringify(after)).toBe(JSON.stringify(before))
    })
  }

  const kept: Array<[string, string]> = [
    ['a member assignment (no name from the language)', 'const o={};o.m=__name(()=>1,"m");out.f=o.m'],
    ['another name (esbuild renamed the binding)', 'const bad2=__name(why=>why,"bad");out.f=bad2'],
    ['an argument', 'out.f=((f)=>f)(__name(()=>1,"f"))'],
    ['a conditional branch', 'const c=true;const a=0;out.f=c?__name(()=>1,"a"):a'],
    ['__proto__ (sets the prototype)', 'out.o=Object.getPrototypeOf({__proto__:__name(function(){},"__proto__")})'],
    ['a class expression', 'const X=__name(class{},"X");out.f=X'],
    ['a function expression with another own name', 'out.o={get:__name(function name3(){},"name")}'],
    ['a compound assignment', 'let s="";s+=__name(()=>1,"s");out.s=s']
  ]
  for (const [what, code] of kept) {
    it(`keeps ${what}`, () => {
      const r = unwrapNames(code)
      expect(r.removed).toBe(0)
      expect(r.code).toBe(code)
      expect(names(run(code))).toEqual(names(run(r.code)))
    })
  }

  it('leaves a call whose argument the scan misreads, when the misread still compiles in parentheses', () => {
    // `i++ /2`: the scan takes the `/` for a regular expression's start and ends the first argument
    // at the second call's comma; `(${fn})` compiles (the first call's `)` closes the parenthesis),
    // and the cut left `…i++ /2,"a"),a=…` (a syntax error). A bracket around it does not compile.
    const code = 'let i=4,j=4,a;out.u=[a=__name(()=>i++ /2,"a"),a=__name(()=>j/1,"a")].map(f=>f());out.f=a'
    const r = unwrapNames(code)
    expect(r.removed).toBe(1)
    expect(r.code).toBe('let i=4,j=4,a;out.u=[a=__name(()=>i++ /2,"a"),a=()=>j/1].map(f=>f());out.f=a')
    expect(names(run(r.code))).toEqual(names(run(code)))
    expect(JSON.stringify(run(r.code))).toBe(JSON.stringify(run(code)))
  })

  it('leaves a call whose argument it cannot delimit', () => {
    // An unterminated template: the scan finds no end, nothing changes.
    const code = 'var f=__name(()=>`a,'
    expect(unwrapNames(code)).toEqual({ code, removed: 0 })
  })
})
