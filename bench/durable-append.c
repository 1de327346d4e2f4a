// Durable appends on this machine, in C, without Node (docs/performance/ingest.md, "Session 23: ingest"):
// p10/p50/p95 per kind, the kinds alternating append by append in one process.
//   gcc -O2 -o /tmp/durable-append bench/durable-append.c -lsqlite3
//   /tmp/durable-append DIR RECORD_BYTES RECORDS_PER_APPEND N KIND...
// KIND: 0 pwrite+fdatasync at the end of a growing file, 1 the same into a preallocated file,
// 2/3 pwrite on an O_DSYNC descriptor (growing / preallocated), 4 SQLite WAL commit at
// synchronous=FULL (one INSERT per record, one transaction per append), 5/6 O_DIRECT|O_DSYNC with
// 512-byte aligned writes (preallocated / growing), 7 WAL-like frames (24 + 4,096 bytes) + fdatasync.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sqlite3.h>

static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
#define PREALLOC (64<<20)

typedef struct { const char*name; int kind; int fd; off_t off; sqlite3*db; sqlite3_stmt*st; double*t; char*path; } Mode;
// kinds: 0 pwrite+fdatasync append (growing file), 1 pwrite+fdatasync into a preallocated (written) file,
// 2 O_DSYNC append growing, 3 O_DSYNC into preallocated, 4 sqlite WAL FULL, 5 O_DIRECT|O_DSYNC into preallocated (aligned),
// 6 O_DIRECT|O_DSYNC growing (aligned)
static char *dir; static size_t recsz; static int rows;
static char *buf; static char *abuf;

static void prealloc(int fd){ char*z=calloc(1,1<<20); for(int i=0;i<PREALLOC>>20;i++) if(pwrite(fd,z,1<<20,(off_t)i<<20)<0){perror("pw");exit(1);} fsync(fd); free(z);}

static void open_mode(Mode*m){
  char p[512]; snprintf(p,sizeof p,"%s/m%d.%zu",dir,m->kind,recsz); m->path=strdup(p); unlink(p);
  int fl=O_RDWR|O_CREAT;
  switch(m->kind){
  case 0: m->fd=open(p,fl,0644); break;
  case 1: m->fd=open(p,fl,0644); prealloc(m->fd); break;
  case 2: m->fd=open(p,fl|O_DSYNC,0644); break;
  case 3: m->fd=open(p,fl,0644); prealloc(m->fd); close(m->fd); m->fd=open(p,O_RDWR|O_DSYNC); break;
  case 5: m->fd=open(p,fl,0644); prealloc(m->fd); close(m->fd); m->fd=open(p,O_RDWR|O_DSYNC|O_DIRECT); break;
  case 7: m->fd=open(p,fl,0644); prealloc(m->fd); m->off=32; break;
  case 6: m->fd=open(p,fl|O_DSYNC|O_DIRECT,0644); break;
  case 4: {
    char wp[600]; snprintf(wp,sizeof wp,"%s-wal",p); unlink(wp);
    sqlite3_open(p,&m->db);
    sqlite3_exec(m->db,"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE rows(id INTEGER PRIMARY KEY, tbl INTEGER, data BLOB);",0,0,0);
    sqlite3_prepare_v2(m->db,"INSERT INTO rows(tbl,data) VALUES(1,?)",-1,&m->st,0);
    m->fd=-1; break; }
  }
  if(m->kind!=4 && m->fd<0){perror(p);exit(1);}
}
static void append(Mode*m){
  size_t n=recsz*rows;
  switch(m->kind){
  case 0: case 1:
    if(pwrite(m->fd,buf,n,m->off)!=(ssize_t)n){perror("pwrite");exit(1);} if(fdatasync(m->fd)){perror("fds");exit(1);} m->off+=n; break;
  case 2: case 3:
    if(pwrite(m->fd,buf,n,m->off)!=(ssize_t)n){perror("pwrite");exit(1);} m->off+=n; break;
  case 5: case 6: {
    // a log with O_DIRECT rewrites its partial last 512-byte sector with each append
    off_t start=m->off&~511; off_t end=(m->off+n+511)&~511;
    memcpy(abuf+(m->off-start),buf,n);
    if(pwrite(m->fd,abuf,end-start,start)!=end-start){perror("pwrite direct");exit(1);}
    // keep the tail sector's bytes at the front of abuf for the next append
    off_t ns=(m->off+n)&~511; memmove(abuf,abuf+(ns-start),512); m->off+=n; break; }
  case 7: { int pages=(n+4000)/4000; for(int q=0;q<pages;q++){ if(pwrite(m->fd,buf,24,m->off)!=24) exit(1); if(pwrite(m->fd,abuf,4096,m->off+24)!=4096) exit(1); m->off+=4120; } if(m->off>PREALLOC-65536) m->off=32; if(fdatasync(m->fd)) exit(1); break; }
  case 4: {
    if(rows==1){ sqlite3_bind_blob(m->st,1,buf,recsz,SQLITE_STATIC); sqlite3_step(m->st); sqlite3_reset(m->st); }
    else { sqlite3_exec(m->db,"BEGIN IMMEDIATE",0,0,0); for(int r=0;r<rows;r++){ sqlite3_bind_blob(m->st,1,buf+r*recsz,recsz,SQLITE_STATIC); if(sqlite3_step(m->st)!=SQLITE_DONE){fprintf(stderr,"step\n");exit(1);} sqlite3_reset(m->st);} sqlite3_exec(m->db,"COMMIT",0,0,0); }
    break; }
  }
}
int main(int argc,char**argv){
  dir=argv[1]; recsz=atoi(argv[2]); rows=atoi(argv[3]); int N=atoi(argv[4]);
  int kinds[16],nk=0; for(int i=5;i<argc;i++) kinds[nk++]=atoi(argv[i]);
  buf=malloc(recsz*rows); for(size_t i=0;i<recsz*rows;i++) buf[i]='a'+i%26;
  if(posix_memalign((void**)&abuf,4096,recsz*rows+8192)) exit(1); memset(abuf,0,recsz*rows+8192);
  Mode m[16]; const char*names[]={"pwrite+fdatasync, growing file","pwrite+fdatasync, preallocated","O_DSYNC write, growing","O_DSYNC write, preallocated","SQLite WAL commit, FULL","O_DIRECT|O_DSYNC, preallocated","O_DIRECT|O_DSYNC, growing","WAL-like frames+fdatasync, prealloc"};
  for(int k=0;k<nk;k++){ memset(&m[k],0,sizeof m[k]); m[k].kind=kinds[k]; m[k].name=names[kinds[k]]; m[k].t=malloc(N*sizeof(double)); open_mode(&m[k]); }
  for(int w=0;w<1200;w++) for(int k=0;k<nk;k++) append(&m[k]);
  for(int i=0;i<N;i++) for(int j=0;j<nk;j++){ int k=(i+j)%nk; double s=now(); append(&m[k]); m[k].t[i]=now()-s; }
  for(int k=0;k<nk;k++){ qsort(m[k].t,N,sizeof(double),cmp); printf("%-34s %6zu B x %3d: p10 %6.1f  p50 %6.1f  p95 %6.1f us\n",m[k].name,recsz,rows,m[k].t[N/10],m[k].t[N/2],m[k].t[N*95/100]); }
  for(int k=0;k<nk;k++){ if(m[k].db){sqlite3_finalize(m[k].st);sqlite3_close(m[k].db);} else close(m[k].fd); }
  return 0;
}
