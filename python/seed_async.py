# The post's asynchronous program (seed/000_5e379f9cb3d76587.txt), as the post wrote
# it. One change, which Python 3.11 requires: asyncio.wait no longer takes coroutines,
# so each is wrapped in asyncio.create_task.
#
# Record it turn by turn:
#   python3 python/asyncio_record.py --virtual-time --out seed.jsonl python/seed_async.py
import time
import asyncio

async def find_users_async(n):
    for i in range(1, n + 1):
        print(f'{n}명 중 {i}번 째 사용자 조회 중 ...')
        await asyncio.sleep(1)
    print(f'> 총 {n} 명 사용자 비동기 조회 완료!')
    
async def process_async():
    start = time.time()
    await asyncio.wait([
        asyncio.create_task(find_users_async(3)),
        asyncio.create_task(find_users_async(2)),
        asyncio.create_task(find_users_async(1)),
    ])
    end = time.time()
    print(f'>>> 비동기 처리 총 소요 시간: {end - start}')

if __name__ == '__main__':
    asyncio.run(process_async())
    """ 3.7이하 버전은 asyncio.run(process_async()) 대신 아래 세줄을 실행시켜야 한다.
    loop = asyncio.get_event_loop()
    loop.run_until_complete(process_async())
    loop.close()
    """
